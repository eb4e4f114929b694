using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace InferenceServer.Api;

/// <summary>
/// Reads an OpenAI request body field by field, turning every type or range problem into a 400 that
/// names the parameter. JSON null counts as absent, as OpenAI treats it.
/// </summary>
internal sealed partial class RequestReader(JsonObject body)
{
    public JsonObject Body => body;

    public JsonNode? Get(string name) => body.TryGetPropertyValue(name, out var value) ? value : null;

    public string RequiredString(string name) =>
        OptionalString(name) ?? throw Invalid(name, $"Missing required parameter: '{name}'.", "missing_required_parameter");

    /// <summary>A name as OpenAI allows it for functions and json_schema formats: 1 to 64 of a-z, A-Z, 0-9, underscores and dashes.</summary>
    public string RequiredName(string name)
    {
        var value = RequiredString(name);
        return NamePattern().IsMatch(value)
            ? value
            : throw Invalid(name, $"Invalid '{name}': a name is 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes.");
    }

    public string? OptionalString(string name) => Get(name) switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        var other => throw WrongType(name, "a string", other),
    };

    public bool? OptionalBool(string name) => Get(name) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        var other => throw WrongType(name, "a boolean", other),
    };

    public double? OptionalNumber(string name, double min, double max)
    {
        var node = Get(name);
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) throw WrongType(name, "a number", node);
        var value = v.GetValue<double>();
        return value >= min && value <= max
            ? value
            : throw Invalid(name, $"{value} is out of range for '{name}': expected a number from {min} to {max}.", "invalid_value");
    }

    public long? OptionalInteger(string name, long min, long max)
    {
        var node = Get(name);
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) throw WrongType(name, "an integer", node);
        if (!v.TryGetValue(out long value))
        {
            var asDouble = v.GetValue<double>();
            if (asDouble != Math.Floor(asDouble)) throw WrongType(name, "an integer", node);
            value = asDouble < min ? long.MinValue : asDouble > max ? long.MaxValue : (long)asDouble;
        }
        return value >= min && value <= max
            ? value
            : throw Invalid(name, $"{value} is out of range for '{name}': expected an integer from {min} to {max}.", "invalid_value");
    }

    /// <summary>Runs a read of a nested object's field, naming the field by its full path (messages[2].role) in any error.</summary>
    public static T Within<T>(string parent, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ApiException ex) when (ex.Error.Param is { } inner && !inner.StartsWith(parent, StringComparison.Ordinal))
        {
            throw new ApiException(ex.Error with { Param = $"{parent}.{inner}", Message = ex.Error.Message.Replace($"'{inner}'", $"'{parent}.{inner}'") });
        }
    }

    public static ApiException Invalid(string param, string message, string code = "invalid_value") =>
        new(ApiError.BadRequest(message, param, code));

    public static ApiException WrongType(string param, string expected, JsonNode? actual) =>
        Invalid(param, $"Invalid type for '{param}': expected {expected}, but got {Describe(actual)}.", "invalid_type");

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "a value",
        },
        _ => "a value",
    };

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();
}
