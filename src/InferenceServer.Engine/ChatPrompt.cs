namespace InferenceServer.Engine;

/// <summary>One chat message, already flattened to text, with an OpenAI role name.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>Renders a conversation into the prompt text the model was trained on. Thread-safe.</summary>
public interface IChatPromptRenderer
{
    string Render(IReadOnlyList<ChatTurn> turns, bool addGenerationPrompt);
}
