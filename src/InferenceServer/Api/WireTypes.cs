using System.Text.Json.Serialization;

namespace InferenceServer.Api;

// OpenAI's response shapes. Properties OpenAI always sends, even as null, say so with JsonIgnoreCondition.Never.

internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetails PromptTokensDetails,
    CompletionTokensDetails? CompletionTokensDetails = null)
{
    /// <param name="reasoning">Reasoning tokens among the completion tokens; null for a model that does not think.</param>
    /// <param name="prediction">Predicted Outputs' counts; null for a request without a prediction.</param>
    public static Usage Of(int prompt, int completion, int cached, int? reasoning = null, PredictionUsage? prediction = null) =>
        new(prompt, completion, prompt + completion, new PromptTokensDetails(cached),
            reasoning is null && prediction is null ? null : new CompletionTokensDetails(reasoning ?? 0, prediction?.Accepted, prediction?.Rejected));
}

/// <summary>How many completion tokens were reasoning (their text is in reasoning_content), and how many predicted tokens were kept and thrown away.</summary>
internal sealed record CompletionTokensDetails(int ReasoningTokens, int? AcceptedPredictionTokens = null, int? RejectedPredictionTokens = null);

/// <summary>How many prompt tokens came from the prefix cache instead of being computed.</summary>
internal sealed record PromptTokensDetails(int CachedTokens);

internal sealed record ChatCompletion(string Id, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage)
{
    [JsonPropertyOrder(-1)]
    public string Object => "chat.completion";
    public string SystemFingerprint => WireConstants.SystemFingerprint;
}

internal sealed record ChatChoice(
    int Index,
    ChatMessage Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs = null);

internal sealed record ChatMessage(string Role, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content, IReadOnlyList<WireToolCall>? ToolCalls = null)
{
    public string? ReasoningContent { get; init; }
    public string? Reasoning { get; init; }
    /// <summary>OpenAI's schema requires the field; this server never refuses in words, so it is always null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Refusal => null;
}

/// <summary>A whole tool call (in a message) or one piece of it (in a delta: the first piece carries id, type and name, later ones argument text).</summary>
internal sealed record WireToolCall(int? Index, string? Id, string? Type, WireFunctionCall Function);

internal sealed record WireFunctionCall(string? Name, string? Arguments);

internal sealed record ChatCompletionChunk(string Id, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage = null)
{
    [JsonPropertyOrder(-1)]
    public string Object => "chat.completion.chunk";
    public string SystemFingerprint => WireConstants.SystemFingerprint;
}

internal sealed record ChatChunkChoice(
    int Index,
    ChatDelta Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs = null);

internal sealed record ChatDelta(string? Role = null, string? Content = null, IReadOnlyList<WireToolCall>? ToolCalls = null,
    string? ReasoningContent = null, string? Reasoning = null);

internal sealed record TextCompletion(string Id, long Created, string Model, IReadOnlyList<TextChoice> Choices, Usage? Usage = null)
{
    [JsonPropertyOrder(-1)]
    public string Object => "text_completion";
    public string SystemFingerprint => WireConstants.SystemFingerprint;
}

internal sealed record TextChoice(
    int Index,
    string Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] TextLogprobs? Logprobs = null);

/// <summary>A model, or a LoRA adapter served on one (then <paramref name="Parent"/> is the base model's id).</summary>
internal sealed record ModelObject(string Id, long Created, string OwnedBy, string? Parent = null)
{
    [JsonPropertyOrder(-1)]
    public string Object => "model";
}

internal sealed record ModelList(IReadOnlyList<ModelObject> Data)
{
    [JsonPropertyOrder(-1)]
    public string Object => "list";
}

internal static class WireConstants
{
    public const string SystemFingerprint = "fp_inferenceserver";
}
