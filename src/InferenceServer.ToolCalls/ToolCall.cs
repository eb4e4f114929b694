using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.ToolCalls;

/// <summary>One function call the model wrote. <see cref="Arguments"/> is JSON text (an object); <see cref="Id"/> only when the model wrote one.</summary>
public sealed record ToolCall(string Name, string Arguments, string? Id = null);

/// <summary>A finished output split into its text and its calls (empty when the model called nothing).</summary>
public sealed record ParsedOutput(string Content, IReadOnlyList<ToolCall> ToolCalls)
{
    public static ParsedOutput Text(string content) => new(content, []);
}

/// <summary>A function the model may call: its name, the JSON Schema of its arguments, and whether they must always match it (<c>strict</c>).</summary>
public sealed record FunctionDefinition(string Name, JsonNode? Parameters, bool Strict = false);

internal static class Json
{
    /// <summary>Parses one JSON value starting at <paramref name="start"/> (after whitespace); null when there is none. <paramref name="end"/> is just past it.</summary>
    public static JsonNode? ParsePrefix(string text, int start, out int end)
    {
        end = start;
        while (start < text.Length && char.IsWhiteSpace(text[start])) start++;
        if (start >= text.Length) return null;
        var bytes = System.Text.Encoding.UTF8.GetBytes(text[start..]);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true });
        try
        {
            using var document = JsonDocument.ParseValue(ref reader);
            var consumedChars = System.Text.Encoding.UTF8.GetCharCount(bytes, 0, (int)reader.BytesConsumed);
            end = start + consumedChars;
            return JsonNode.Parse(document.RootElement.GetRawText());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static JsonNode? TryParse(string text)
    {
        var node = ParsePrefix(text, 0, out var end);
        return node is not null && text.AsSpan(end).IsWhiteSpace() ? node : null;
    }

    /// <summary>Arguments as compact JSON text: an object as is, a string holding JSON parsed first; null when neither.</summary>
    public static string? Arguments(JsonNode? arguments) => arguments switch
    {
        JsonObject o => o.ToJsonString(),
        JsonValue v when v.TryGetValue(out string? s) && TryParse(s) is JsonObject parsed => parsed.ToJsonString(),
        null => "{}",
        _ => null,
    };

    /// <summary>A call from {"name": ..., "arguments"|"parameters": ...}, also wrapped as {"function": {...}}; null when it is not one.</summary>
    public static ToolCall? Call(JsonNode? node)
    {
        if (node is not JsonObject o) return null;
        if (o["function"] is JsonObject inner && o["name"] is null) return Call(inner) is { } c ? c with { Id = Id(o) } : null;
        if (o["name"] is not JsonValue nameValue || !nameValue.TryGetValue(out string? name) || name.Length == 0) return null;
        var arguments = Arguments(o["arguments"] ?? o["parameters"]);
        return arguments is null ? null : new ToolCall(name, arguments, Id(o));
    }

    private static string? Id(JsonObject o) => o["id"] is JsonValue v && v.TryGetValue(out string? id) ? id : null;
}
