using InferenceServer.Contracts;
using InferenceServer.Templates;
using LLama;

namespace InferenceServer.Llama;

/// <summary>Picks the chat renderer at load time: the --chat-template override, else the model's Jinja template, else ChatML.</summary>
internal static class ChatRenderers
{
    public const string MetadataKey = "tokenizer.chat_template";

    /// <summary>
    /// <paramref name="chatTemplate"/> is a Jinja file path or a llama.cpp built-in family name, or null.
    /// Throws <see cref="ModelLoadException"/> for a template that does not parse or a name nobody knows.
    /// </summary>
    public static IChatPromptRenderer Select(LLamaWeights weights, string? chatTemplate, out string? fallbackReason)
    {
        fallbackReason = null;
        var (bos, eos) = SpecialTexts(weights);
        if (!string.IsNullOrEmpty(chatTemplate))
        {
            if (File.Exists(chatTemplate))
                return ParseJinja(File.ReadAllText(chatTemplate), $"file '{chatTemplate}'", bos, eos);
            if (LlamaChatRenderer.Check(chatTemplate) is { } problem)
                throw new ModelLoadException($"--chat-template '{chatTemplate}' is neither a file nor a chat template name llama.cpp knows ({problem}).");
            return new LlamaChatRenderer(chatTemplate);
        }
        if (weights.Metadata.TryGetValue(MetadataKey, out var source) && !string.IsNullOrWhiteSpace(source))
            return ParseJinja(source, "the model's GGUF metadata", bos, eos);
        fallbackReason = "the model has no chat template (pass --chat-template NAME|FILE to choose one)";
        return new LlamaChatRenderer(LlamaChatRenderer.Fallback);
    }

    private static JinjaChatRenderer ParseJinja(string source, string origin, string bos, string eos)
    {
        try
        {
            return new JinjaChatRenderer(source, origin, bos, eos);
        }
        catch (TemplateSyntaxException ex)
        {
            throw new ModelLoadException($"The chat template from {origin} is not valid Jinja: {ex.Message}", ex);
        }
    }

    /// <summary>The BOS and EOS tokens' texts, as llama.cpp passes them to templates (empty when the vocabulary has none).</summary>
    private static (string Bos, string Eos) SpecialTexts(LLamaWeights weights)
    {
        var vocab = weights.NativeHandle.Vocab;
        return (vocab.BOS is { } b ? vocab.LLamaTokenToString(b, true) ?? "" : "",
                vocab.EOS is { } e ? vocab.LLamaTokenToString(e, true) ?? "" : "");
    }
}
