namespace InferenceServer.LoadGen.Metrics;

/// <summary>Why a request did not complete.</summary>
internal enum FailureKind
{
    /// <summary>The server answered with a non-success HTTP status.</summary>
    HttpStatus,
    /// <summary>The per-request timeout elapsed.</summary>
    Timeout,
    /// <summary>The stream ended or broke before <c>[DONE]</c>, or carried unparsable data.</summary>
    BrokenStream,
    /// <summary>The stream carried an <c>error</c> object.</summary>
    StreamError,
    /// <summary>No connection could be made or the request could not be sent.</summary>
    Connection,
}

/// <summary>One failure, keyed for counting by kind (<c>http_429</c>, <c>timeout</c>, <c>broken_stream</c>, …).</summary>
internal sealed record RequestFailure(FailureKind Kind, int? StatusCode, string Detail)
{
    public string Key => Kind switch
    {
        FailureKind.HttpStatus => $"http_{StatusCode}",
        FailureKind.Timeout => "timeout",
        FailureKind.BrokenStream => "broken_stream",
        FailureKind.StreamError => "stream_error",
        FailureKind.Connection => "connection",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// What one streamed request measured. Times are from the moment the request was handed to HttpClient.
/// Invariants: <see cref="Failure"/> is null exactly when the request succeeded; <see cref="InterTokenLatencies"/>
/// has one entry per content chunk after the first; <see cref="TimeToFirstToken"/> is null when no content arrived.
/// </summary>
internal sealed record RequestRecord
{
    public required int ConversationId { get; init; }
    public required int Turn { get; init; }
    /// <summary>When the request was sent, relative to the start of its level.</summary>
    public required TimeSpan SentAt { get; init; }
    public required TimeSpan EndToEnd { get; init; }
    public TimeSpan? TimeToFirstToken { get; init; }
    public IReadOnlyList<TimeSpan> InterTokenLatencies { get; init; } = [];
    public int ContentChunks { get; init; }
    /// <summary>True when the final usage chunk was seen; token counts below come from it.</summary>
    public bool UsageReported { get; init; }
    public int PromptTokens { get; init; }
    public int CachedPromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public string GeneratedText { get; init; } = "";
    public RequestFailure? Failure { get; init; }
    /// <summary>True when the run's duration cap cut the request off; such requests count neither as done nor failed.</summary>
    public bool Aborted { get; init; }

    public bool Succeeded => Failure is null && !Aborted;

    /// <summary>Output tokens: from usage when reported, else one per content chunk (may undercount bundled tokens).</summary>
    public int OutputTokens => UsageReported ? CompletionTokens : ContentChunks;

    /// <summary>Time per output token after the first; null when it is undefined (fewer than two tokens or no first token).</summary>
    public TimeSpan? TimePerOutputToken => TimePerOutputTokenMath.Compute(EndToEnd, TimeToFirstToken, OutputTokens);
}

/// <summary>TPOT as vLLM defines it: decode time spread over every output token but the first.</summary>
internal static class TimePerOutputTokenMath
{
    public static TimeSpan? Compute(TimeSpan endToEnd, TimeSpan? timeToFirstToken, int outputTokens)
    {
        if (timeToFirstToken is not { } ttft || outputTokens < 2)
            return null;
        return (endToEnd - ttft) / (outputTokens - 1);
    }
}
