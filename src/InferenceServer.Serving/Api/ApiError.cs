using System.Text.Json.Serialization;

namespace InferenceServer.Api;

/// <summary>An OpenAI-shaped error: {"error":{"message","type","param","code"}} with its HTTP status.</summary>
public sealed record ApiError(int Status, string Message, string Type, string? Param = null, string? Code = null, int? RetryAfterSeconds = null)
{
    public static ApiError BadRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static ApiError ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model '{model}' does not exist.", "invalid_request_error", "model", "model_not_found");

    public static ApiError Overloaded(string message) =>
        new(StatusCodes.Status429TooManyRequests, message, "rate_limit_error", Code: "server_overloaded", RetryAfterSeconds: 1);

    /// <summary>The error's body, as OpenAI writes it.</summary>
    internal object Body => new ErrorBody(new ErrorDetail(Message, Type, Param, Code));

    /// <summary>The error as an SSE payload, for failures after a stream has started.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(Body, ApiJson.Options);

    private sealed record ErrorBody(ErrorDetail Error);

    private sealed record ErrorDetail(
        string Message,
        string Type,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);
}

/// <summary>Thrown while reading a request; the endpoint filter turns it into the error response.</summary>
public sealed class ApiException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}
