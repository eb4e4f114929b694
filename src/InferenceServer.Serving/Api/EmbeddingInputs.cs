namespace InferenceServer.Api;

/// <summary>An embeddings request's inputs, checked and tokenized: shared by /v1/embeddings and the in-process embedding generator.</summary>
internal static class EmbeddingInputs
{
    private const int MaxInputs = 2048;

    /// <summary>The <c>input</c> (a string, an array of strings, an array of token ids, or an array of token-id arrays) as token arrays, and <c>dimensions</c> checked.</summary>
    public static List<int[]> Read(RequestReader reader, ResolvedRequest resolved)
    {
        var model = resolved.Model;
        var inputs = PromptInput.Read(reader, "input", MaxInputs, model.Tokenizer.VocabularySize);
        var items = inputs.Select((input, i) => input.Tokens ?? Text(resolved, input.Text!, inputs.Count == 1 ? "input" : $"input[{i}]")).ToList();
        foreach (var (tokens, i) in items.Select((t, i) => (t, i)))
            if (tokens.Length > model.Embeddings.MaxInputTokens)
                throw RequestReader.Invalid(items.Count == 1 ? "input" : $"input[{i}]",
                    $"An input may have at most {model.Embeddings.MaxInputTokens} tokens; this one has {tokens.Length}.", "context_length_exceeded");
        if (reader.OptionalInteger("dimensions", 1, int.MaxValue) is { } dimensions && dimensions != model.Embeddings.Dimensions)
            throw RequestReader.Invalid("dimensions", $"This model's embeddings have {model.Embeddings.Dimensions} dimensions and cannot be shortened to {dimensions}.");
        return items;
    }

    private static int[] Text(ResolvedRequest resolved, string text, string param) =>
        text.Length == 0 ? throw RequestReader.Invalid(param, "An input must not be empty.") : resolved.Tokenize(text, param);
}
