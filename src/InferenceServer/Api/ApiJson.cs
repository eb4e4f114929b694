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

    /// <summary>
    /// A JSON response serialized whole before its status line, sent with its Content-Length: a response either
    /// completes or fails as a 500 before anything is sent, never a 200 cut mid-body (a failure while
    /// serializing a streamed body can only abort the connection after the status has gone).
    /// </summary>
    public static IResult Whole<T>(T value) => new WholeJson(JsonSerializer.SerializeToUtf8Bytes(value, Options));

    private sealed class WholeJson(byte[] body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            httpContext.Response.ContentLength = body.Length;
            return httpContext.Response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
        }
    }
}
