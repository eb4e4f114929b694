using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceServer.Api;

internal static class ApiJson
{
    /// <summary>OpenAI's wire conventions: snake_case names, absent rather than null unless a property says otherwise.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Quotes and non-ASCII text as OpenAI writes them, not as \u0022 escapes meant for HTML pages.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
