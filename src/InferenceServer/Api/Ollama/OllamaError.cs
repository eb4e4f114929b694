using System.Text.Json.Nodes;

namespace InferenceServer.Api.Ollama;

/// <summary>Ollama's error shape: <c>{"error": "message"}</c> with the status.</summary>
internal sealed class OllamaError : IErrorShape
{
    public static readonly OllamaError Shape = new();

    public int Status(ApiError error) => error.Status;

    public JsonObject Body(ApiError error) => new() { ["error"] = error.Message };
}
