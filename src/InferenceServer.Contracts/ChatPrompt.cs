using System.Text.Json.Nodes;

namespace InferenceServer.Contracts;

/// <summary>
/// A conversation to render, as OpenAI-shaped JSON (validated by the API): <see cref="Messages"/> with
/// roles, string content, assistant <c>tool_calls</c> and <c>tool</c> results; <see cref="Tools"/> the
/// function definitions, or null; <see cref="ExtraContext"/> further template variables (chat_template_kwargs).
/// </summary>
public sealed record ChatConversation(JsonArray Messages, JsonArray? Tools, bool AddGenerationPrompt, JsonObject? ExtraContext = null);

/// <summary>Renders a conversation into the prompt text the model was trained on. Thread-safe.</summary>
public interface IChatPromptRenderer
{
    /// <summary>What renders the prompts, for logs (e.g. "Jinja template from GGUF metadata").</summary>
    string Name { get; }

    /// <summary>The Jinja source, from which the tool-call format is recognised; null for built-in families.</summary>
    string? TemplateSource { get; }

    /// <summary>Whether the template puts <c>tools</c> into the prompt at all.</summary>
    bool RendersTools { get; }

    /// <exception cref="ChatTemplateException">The template refused the conversation or failed on it.</exception>
    string Render(ChatConversation conversation);
}

/// <summary>The chat template could not render a conversation; the message is the template's own (from raise_exception) or the failure.</summary>
public sealed class ChatTemplateException(string message, Exception? inner = null) : Exception(message, inner);
