using System.Text;
using InferenceServer.Engine;
using LLama;

namespace InferenceServer.Llama;

/// <summary>
/// Renders chats with llama.cpp's built-in template families (LLamaTemplate). It runs no Jinja: a model
/// template llama.cpp does not recognise, or none at all, falls back to ChatML.
/// </summary>
internal sealed class LlamaChatRenderer : IChatPromptRenderer
{
    private const string FallbackTemplate = "chatml";
    private readonly LLamaWeights? _weights;

    private LlamaChatRenderer(LLamaWeights? weights) => _weights = weights;

    public string Name => _weights is null ? FallbackTemplate : "model (GGUF metadata)";

    /// <summary>Uses the model's template when llama.cpp can apply it; otherwise ChatML, saying why in <paramref name="fallbackReason"/>.</summary>
    public static LlamaChatRenderer For(LLamaWeights weights, out string? fallbackReason)
    {
        if (!weights.Metadata.ContainsKey("tokenizer.chat_template"))
        {
            fallbackReason = "the model has no chat template";
            return new LlamaChatRenderer(null);
        }
        var candidate = new LlamaChatRenderer(weights);
        try
        {
            candidate.Render([new ChatTurn("system", "s"), new ChatTurn("user", "u")], addGenerationPrompt: true);
            fallbackReason = null;
            return candidate;
        }
        catch (Exception ex)
        {
            fallbackReason = $"llama.cpp does not recognise the model's chat template ({ex.Message})";
            return new LlamaChatRenderer(null);
        }
    }

    public string Render(IReadOnlyList<ChatTurn> turns, bool addGenerationPrompt)
    {
        // LLamaTemplate holds native buffers and is not thread-safe: one per render.
        var template = _weights is null ? new LLamaTemplate(FallbackTemplate) : new LLamaTemplate(_weights, strict: true);
        foreach (var turn in turns) template.Add(turn.Role == "developer" ? "system" : turn.Role, turn.Content);
        template.AddAssistant = addGenerationPrompt;
        return Encoding.UTF8.GetString(template.Apply());
    }
}
