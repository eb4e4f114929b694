using System.Text.Json.Nodes;

namespace InferenceServer.Api.Anthropic;

/// <summary>
/// Anthropic's error shape, <c>{"type": "error", "error": {"type", "message"}}</c>, with its statuses: a full
/// queue is 529 <c>overloaded_error</c> (OpenAI's 429 <c>server_overloaded</c>), a spent rate limit stays 429.
/// </summary>
internal sealed class AnthropicError : IErrorShape
{
    public const int Overloaded = 529;

    public static readonly AnthropicError Shape = new();

    public int Status(ApiError error) => error.Code == "server_overloaded" ? Overloaded : error.Status;

    public JsonObject Body(ApiError error) => new()
    {
        ["type"] = "error",
        ["error"] = new JsonObject { ["type"] = TypeOf(Status(error)), ["message"] = error.Message },
    };

    private static string TypeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "authentication_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status404NotFound => "not_found_error",
        StatusCodes.Status413PayloadTooLarge => "request_too_large",
        StatusCodes.Status429TooManyRequests => "rate_limit_error",
        Overloaded or StatusCodes.Status503ServiceUnavailable => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };
}
