using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>POST /v1/embeddings: strings or token arrays in, L2-normalised vectors out (float or base64).</summary>
internal static class EmbeddingsEndpoint
{
    private const int MaxInputs = 2048;

    public static async Task<IResult> HandleAsync(HttpContext http, ModelRegistry models)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = await Generation.RequireModelAsync(http, models, reader);
        var inputs = ReadInputs(reader, model);

        var format = reader.OptionalString("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw RequestReader.Invalid("encoding_format", $"Invalid encoding_format '{format}': expected 'float' or 'base64'.");
        if (reader.OptionalInteger("dimensions", 1, int.MaxValue) is { } dimensions && dimensions != model.Embeddings.Dimensions)
            throw RequestReader.Invalid("dimensions", $"This model's embeddings have {model.Embeddings.Dimensions} dimensions and cannot be shortened to {dimensions}.");

        var vectors = await model.Embeddings.EmbedAsync(inputs, http.RequestAborted);
        var data = vectors.Select((vector, index) => new EmbeddingObject(index,
            format == "base64" ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan())) : vector)).ToList();
        var tokens = inputs.Sum(i => i.Length);
        return TypedResults.Json(new EmbeddingList(data, model.Id, new EmbeddingUsage(tokens, tokens)), ApiJson.Options);
    }

    /// <summary>A string, an array of strings, an array of token ids, or an array of token-id arrays.</summary>
    private static List<int[]> ReadInputs(RequestReader reader, ServedModel model)
    {
        var node = reader.Get("input") ?? throw RequestReader.Invalid("input", "Missing required parameter: 'input'.", "missing_required_parameter");
        var items = node switch
        {
            JsonValue v when v.TryGetValue(out string? text) => [Text(model, text, "input")],
            JsonArray { Count: 0 } => throw RequestReader.Invalid("input", "'input' must not be empty."),
            JsonArray { Count: > MaxInputs } => throw RequestReader.Invalid("input", $"'input' holds at most {MaxInputs} items."),
            JsonArray array when array.All(IsInteger) => [TokenIds(model, array, "input")],
            JsonArray array => array.Select((item, i) => item switch
            {
                JsonValue v when v.TryGetValue(out string? text) => Text(model, text, $"input[{i}]"),
                JsonArray tokens when tokens.Count > 0 && tokens.All(IsInteger) => TokenIds(model, tokens, $"input[{i}]"),
                _ => throw RequestReader.WrongType($"input[{i}]", "a string or an array of token ids", item),
            }).ToList(),
            _ => throw RequestReader.WrongType("input", "a string, an array of strings or an array of token ids", node),
        };
        foreach (var (tokens, i) in items.Select((t, i) => (t, i)))
            if (tokens.Length > model.Embeddings.MaxInputTokens)
                throw RequestReader.Invalid(items.Count == 1 ? "input" : $"input[{i}]",
                    $"An input may have at most {model.Embeddings.MaxInputTokens} tokens; this one has {tokens.Length}.", "context_length_exceeded");
        return items;
    }

    private static int[] Text(ServedModel model, string text, string param) =>
        text.Length == 0 ? throw RequestReader.Invalid(param, "An input must not be empty.") : Generation.Tokenize(model, text, param);

    private static bool IsInteger(JsonNode? node) => node is JsonValue v && v.TryGetValue(out long _);

    private static int[] TokenIds(ServedModel model, JsonArray array, string param) =>
        array.Select((item, i) => item!.GetValue<long>() is var id && id >= 0 && id < model.Tokenizer.VocabularySize
            ? (int)id
            : throw RequestReader.Invalid($"{param}[{i}]", $"Token id {item} is outside this model's vocabulary of {model.Tokenizer.VocabularySize}.")).ToArray();

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
