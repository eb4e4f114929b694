using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>
/// How the protocol a route speaks writes an <see cref="ApiError"/>: its status and its body. Set as a request
/// feature by the route's prefix before anything can fail, so that the gate's 401/429/503, routing's 404, a 413
/// and an endpoint's own errors all take the client's shape; OpenAI's shape where none is set. Stateless.
/// </summary>
internal interface IErrorShape
{
    int Status(ApiError error);

    JsonObject Body(ApiError error);
}

internal static class ErrorShapes
{
    /// <summary>Anthropic's Messages API under /v1/messages, Ollama's API under /api.</summary>
    public static void Use(WebApplication app) => app.Use((http, next) =>
    {
        if (For(http.Request.Path) is { } shape) http.Features.Set(shape);
        return next(http);
    });

    private static IErrorShape? For(PathString path) =>
        path.StartsWithSegments("/v1/messages") ? Anthropic.AnthropicError.Shape
        : path.StartsWithSegments("/api") ? Ollama.OllamaError.Shape
        : null;
}
