using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>One prompt (completions) or input (embeddings): text, or token ids used as given.</summary>
internal sealed record PromptInput(string? Text, int[]? Tokens)
{
    /// <summary>OpenAI's accepted shapes: a string, an array of strings, an array of token ids, or an array of token-id arrays.</summary>
    public static List<PromptInput> Read(RequestReader reader, string name, int maxItems, int vocabularySize) => reader.Get(name) switch
    {
        null => throw RequestReader.Invalid(name, $"Missing required parameter: '{name}'.", "missing_required_parameter"),
        JsonValue v when v.TryGetValue(out string? single) => [new PromptInput(single, null)],
        JsonArray { Count: 0 } => throw RequestReader.Invalid(name, $"'{name}' must not be empty."),
        JsonArray array when array.All(IsInteger) => [new PromptInput(null, TokenIds(array, name, vocabularySize))],
        JsonArray array when array.Count > maxItems => throw RequestReader.Invalid(name, $"'{name}' holds at most {maxItems} items."),
        JsonArray array => array.Select((item, i) => item switch
        {
            JsonValue v when v.TryGetValue(out string? text) => new PromptInput(text, null),
            JsonArray tokens when tokens.Count > 0 && tokens.All(IsInteger) => new PromptInput(null, TokenIds(tokens, $"{name}[{i}]", vocabularySize)),
            _ => throw RequestReader.WrongType($"{name}[{i}]", "a string or a non-empty array of token ids", item),
        }).ToList(),
        var other => throw RequestReader.WrongType(name, "a string, an array of strings or an array of token ids", other),
    };

    /// <summary>Token ids checked against the vocabulary: llama.cpp reads out of bounds on an id it does not have.</summary>
    public static int[] TokenIds(JsonArray array, string param, int vocabularySize) =>
        array.Select((item, i) => item is JsonValue v && v.TryGetValue(out long id) && id >= 0 && id < vocabularySize
            ? (int)id
            : throw RequestReader.Invalid($"{param}[{i}]", $"{item?.ToJsonString() ?? "null"} is not a token id of this model (0 to {vocabularySize - 1}).")).ToArray();

    private static bool IsInteger(JsonNode? node) => node is JsonValue v && v.TryGetValue(out long _);
}
