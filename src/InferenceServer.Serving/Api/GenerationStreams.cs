using System.Runtime.CompilerServices;
using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>One choice's result, gathered from the engine's stream. The logprobs lists are empty unless the request asked for them.</summary>
internal sealed record ChoiceResult(int Index, string Text, FinishReason Reason, int PromptTokens, int CompletionTokens, int CachedTokens,
    IReadOnlyList<TokenLogprob> Logprobs, IReadOnlyList<TokenLogprob> PromptLogprobs)
{
    public SpeculationCounts? Speculation { get; init; }

    /// <summary>The stop sequence that ended the text, if one did.</summary>
    public string? StopSequence { get; init; }

    /// <summary>How long the engine took: queue wait, time to first token and in all.</summary>
    public GenerationTimings? Timings { get; init; }
}

/// <summary>What every generating endpoint does with the engine's streams: gather, merge, name finish reasons, report failures.</summary>
internal static class GenerationStreams
{
    public static async Task<ChoiceResult> GatherAsync(int index, ChannelReader<GenerationEvent> events, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        var logprobs = new List<TokenLogprob>();
        IReadOnlyList<TokenLogprob> promptLogprobs = [];
        await foreach (var item in events.ReadAllAsync(cancellationToken))
        {
            switch (item)
            {
                case TextDelta delta:
                    text.Append(delta.Text);
                    if (delta.Logprobs is not null) logprobs.AddRange(delta.Logprobs);
                    break;
                case PromptLogprobs prompt:
                    promptLogprobs = prompt.Tokens;
                    break;
                case GenerationFinished done:
                    return new ChoiceResult(index, text.ToString(), done.Reason, done.PromptTokens, done.CompletionTokens, done.CachedPromptTokens, logprobs, promptLogprobs)
                    {
                        Speculation = done.Speculation,
                        StopSequence = done.StopSequence,
                        Timings = done.Timings,
                    };
            }
        }
        throw new InvalidOperationException("The engine ended a stream without finishing it.");
    }

    /// <summary>Interleaves several choices' streams in arrival order, tagging each event with its choice index.</summary>
    public static async IAsyncEnumerable<(int Index, GenerationEvent Event)> MergeAsync(
        IReadOnlyList<ChannelReader<GenerationEvent>> streams, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (streams.Count == 1)
        {
            await foreach (var item in streams[0].ReadAllAsync(cancellationToken)) yield return (0, item);
            yield break;
        }
        var merged = Channel.CreateUnbounded<(int, GenerationEvent)>();
        var pumps = streams.Select(async (stream, index) =>
        {
            await foreach (var item in stream.ReadAllAsync(cancellationToken)) await merged.Writer.WriteAsync((index, item), cancellationToken);
        }).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var item in merged.Reader.ReadAllAsync(cancellationToken)) yield return item;
    }

    /// <summary>
    /// The one place engine finish reasons get their names: OpenAI's, and "abort" (vLLM's) for a request the client
    /// cancelled, which logs and metrics show and no response carries.
    /// </summary>
    public static string FinishReasonName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Cancelled => "abort",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Unknown finish reason."),
    };

    /// <summary>A chat's finish reason: a natural stop after a call is OpenAI's "tool_calls"; "length" stays "length".</summary>
    public static string FinishReasonName(FinishReason reason, bool calledTools) =>
        calledTools && reason == FinishReason.Stop ? "tool_calls" : FinishReasonName(reason);

    /// <summary>An id for a tool call the model made, shaped as OpenAI's.</summary>
    public static string NewCallId() => $"call_{Guid.NewGuid():N}"[..29];

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>An SSE stream that reports a failure as an OpenAI error event instead of cutting the connection silently.</summary>
    public static IAsyncEnumerable<string> WithErrorEvent(IAsyncEnumerable<string> events, ILogger logger, CancellationToken cancellationToken) =>
        WithErrorEvent(events, error => error.ToJson(), logger, cancellationToken);

    /// <summary>A stream whose failure after it started becomes its last event, as <paramref name="errorEvent"/> renders it.</summary>
    public static async IAsyncEnumerable<T> WithErrorEvent<T>(IAsyncEnumerable<T> events, Func<ApiError, T> errorEvent, ILogger logger,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var enumerator = events.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            T? next = default;
            ApiError? error = null;
            try
            {
                if (!await enumerator.MoveNextAsync()) break;
                next = enumerator.Current;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                yield break;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "A stream failed after it started");
                error = new ApiError(StatusCodes.Status500InternalServerError, "The server failed while generating this response.", "server_error");
            }
            yield return error is null ? next! : errorEvent(error);
            if (error is not null) yield break;
        }
    }
}
