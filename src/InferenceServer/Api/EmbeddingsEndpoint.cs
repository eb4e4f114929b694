using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>POST /v1/embeddings: strings or token arrays in, L2-normalised vectors out (float or base64).</summary>
internal static class EmbeddingsEndpoint
{
    private const int MaxInputs = 2048;

    public static async Task<IResult> HandleAsync(HttpContext http, RequestResolver resolver, EngineClient engine)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var resolved = await resolver.ResolveBaseAsync(http, reader);
        var model = resolved.Model;
        var inputs = ReadInputs(reader, resolved);

        var format = reader.OptionalString("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw RequestReader.Invalid("encoding_format", $"Invalid encoding_format '{format}': expected 'float' or 'base64'.");
        if (reader.OptionalInteger("dimensions", 1, int.MaxValue) is { } dimensions && dimensions != model.Embeddings.Dimensions)
            throw RequestReader.Invalid("dimensions", $"This model's embeddings have {model.Embeddings.Dimensions} dimensions and cannot be shortened to {dimensions}.");

        var vectors = await engine.EmbedAsync(resolved, inputs, http.RequestAborted);
        var data = vectors.Select((vector, index) => new EmbeddingObject(index,
            format == "base64" ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan())) : vector)).ToList();
        var tokens = inputs.Sum(i => i.Length);
        return ApiJson.Whole(new EmbeddingList(data, model.Id, new EmbeddingUsage(tokens, tokens)));
    }

    /// <summary>A string, an array of strings, an array of token ids, or an array of token-id arrays.</summary>
    private static List<int[]> ReadInputs(RequestReader reader, ResolvedRequest resolved)
    {
        var model = resolved.Model;
        var inputs = PromptInput.Read(reader, "input", MaxInputs, model.Tokenizer.VocabularySize);
        var items = inputs.Select((input, i) => input.Tokens ?? Text(resolved, input.Text!, inputs.Count == 1 ? "input" : $"input[{i}]")).ToList();
        foreach (var (tokens, i) in items.Select((t, i) => (t, i)))
            if (tokens.Length > model.Embeddings.MaxInputTokens)
                throw RequestReader.Invalid(items.Count == 1 ? "input" : $"input[{i}]",
                    $"An input may have at most {model.Embeddings.MaxInputTokens} tokens; this one has {tokens.Length}.", "context_length_exceeded");
        return items;
    }

    private static int[] Text(ResolvedRequest resolved, string text, string param) =>
        text.Length == 0 ? throw RequestReader.Invalid(param, "An input must not be empty.") : resolved.Tokenize(text, param);

    private sealed record EmbeddingObject(int Index, object Embedding)
    {
        [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
        public string Object => "embedding";
    }

    private sealed record EmbeddingList(IReadOnlyList<EmbeddingObject> Data, string Model, EmbeddingUsage Usage)
    {
        [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
        public string Object => "list";
    }

    private sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);
}
