using System.Runtime.CompilerServices;
using System.Threading.Channels;
using InferenceServer.Engine;
using InferenceServer.Operations;

namespace InferenceServer.Api;

/// <summary>One choice's result, gathered from the engine's stream. The logprobs lists are empty unless the request asked for them.</summary>
internal sealed record ChoiceResult(int Index, string Text, FinishReason Reason, int PromptTokens, int CompletionTokens, int CachedTokens,
    IReadOnlyList<TokenLogprob> Logprobs, IReadOnlyList<TokenLogprob> PromptLogprobs);

/// <summary>What both completion endpoints do with the engine: submit, gather, or stream choice by choice.</summary>
internal static class Generation
{
    /// <summary>The request's "model", loaded and held until the HTTP request completes (see <see cref="ModelResolution"/>).</summary>
    public static Task<ServedModel> RequireModelAsync(HttpContext http, ModelRegistry models, RequestReader reader) =>
        models.AcquireAsync(http, reader.RequiredString("model"));

    /// <summary>Tokenizes prompt text after checking that the vocabulary can encode it (llama.cpp aborts the process otherwise).</summary>
    public static int[] Tokenize(ServedModel model, string text, string param)
    {
        if (model.Tokenizer.FindUnencodable(text) is { } problem)
            throw RequestReader.Invalid(param, problem, "unencodable_text");
        return model.Tokenizer.Tokenize(text, addBos: true, parseSpecial: true);
    }

    /// <summary>
    /// Queues <see cref="GenerationSettings.Choices"/> choices of each request, in that order (request-major), and
    /// waits until each has started. Choice i samples with seed + i and shares its prompt's KV with its siblings.
    /// If any is refused, those already queued are cancelled.
    /// </summary>
    public static async Task<IReadOnlyList<ChannelReader<GenerationEvent>>> SubmitAllAsync(HttpContext http, ServedModel model,
        GenerationSettings settings, IReadOnlyList<GenerationRequest> requests, CancellationToken aborted)
    {
        // Must outlive this method: a stream is written after it returns, and disposing the source would cut the link to a client's abort.
        var submitted = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        http.Response.RegisterForDispose(submitted);
        var streams = new List<ChannelReader<GenerationEvent>>();
        try
        {
            foreach (var request in requests)
                for (var choice = 0; choice < settings.Choices; choice++)
                    streams.Add(Submit(http, model, settings, AsChoice(request, choice, settings.Choices), submitted.Token));
            await AwaitStartAsync(streams, aborted);
        }
        catch
        {
            await submitted.CancelAsync();
            throw;
        }
        return streams;
    }

    private static GenerationRequest AsChoice(GenerationRequest request, int choice, int choices) => choices == 1
        ? request
        : request with
        {
            Id = $"{request.Id}-{choice}",
            Sampling = request.Sampling with { Seed = unchecked(request.Sampling.Seed + (uint)choice) },
            PrefillGroup = request.Id,
        };

    /// <summary>
    /// Admits a request (limits, tokens per minute), queues it in the engine and links it to the HTTP
    /// request's record for its metrics, spans and summary log line.
    /// </summary>
    private static ChannelReader<GenerationEvent> Submit(HttpContext http, ServedModel model, GenerationSettings settings,
        GenerationRequest request, CancellationToken cancellationToken)
    {
        var services = http.RequestServices;
        request = services.GetRequiredService<Admission>().Admit(http, request, maxTokensGiven: settings.MaxTokens is not null);
        // Cached prompt prefixes are shared only among requests of one API key (and, within it, one cache_salt).
        request = request with { CacheIsolationKey = $"{RequestIdentity.Of(http).KeyId}/{request.CacheIsolationKey}", Adapters = AdapterSelection.Of(http) };
        // Tracked before the engine sees it: a short request can finish before Submit returns, and its finish
        // must find its record (a refused one is forgotten when the HTTP request completes).
        var record = http.Features.Get<RequestRecord>();
        if (record is not null)
        {
            record.Model = model.Id;
            services.GetRequiredService<InferenceTelemetry>().Track(record, request.Id);
        }
        ChannelReader<GenerationEvent> events;
        try
        {
            events = model.Engine.Submit(request, cancellationToken);
        }
        catch (EngineOverloadedException ex)
        {
            throw new ApiException(ApiError.Overloaded(ex.Message));
        }
        catch (AdapterUnloadedException ex)
        {
            throw new ApiException(AdapterSelection.NotFound(model.Id, ex.AdapterName, "adapters"));
        }
        return record?.Completion is { } completion ? new RecordingReader(events, completion) : events;
    }

    /// <summary>
    /// Waits until every stream has its first event or has failed, so that a request the engine ends before it
    /// starts (it waited longer than --max-queue-wait, or the engine stopped) gets its HTTP status, not a broken 200.
    /// </summary>
    private static async Task AwaitStartAsync(IEnumerable<ChannelReader<GenerationEvent>> streams, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var stream in streams) await stream.WaitToReadAsync(cancellationToken);
        }
        catch (QueueWaitExceededException ex)
        {
            throw new ApiException(ApiError.Overloaded(ex.Message));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(new ApiError(StatusCodes.Status503ServiceUnavailable, "The server is shutting down. Retry shortly.",
                "service_unavailable", Code: "server_shutting_down", RetryAfterSeconds: 1));
        }
    }

    /// <summary>Passes a stream through, keeping its text for the --log-prompts completion line.</summary>
    private sealed class RecordingReader(ChannelReader<GenerationEvent> inner, System.Text.StringBuilder text) : ChannelReader<GenerationEvent>
    {
        public override bool TryRead([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GenerationEvent item)
        {
            if (!inner.TryRead(out item)) return false;
            if (item is TextDelta delta)
                lock (text) text.Append(delta.Text);
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }

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
                    return new ChoiceResult(index, text.ToString(), done.Reason, done.PromptTokens, done.CompletionTokens, done.CachedPromptTokens, logprobs, promptLogprobs);
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

    /// <summary>The one place engine finish reasons become OpenAI's.</summary>
    public static string FinishReasonName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "stop",
    };

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>An SSE stream that reports a failure as an OpenAI error event instead of cutting the connection silently.</summary>
    public static async IAsyncEnumerable<string> WithErrorEvent(IAsyncEnumerable<string> events, ILogger logger, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var enumerator = events.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            string? next = null;
            string? error = null;
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
                error = new ApiError(StatusCodes.Status500InternalServerError, "The server failed while generating this response.", "server_error").ToJson();
            }
            yield return next ?? error!;
            if (error is not null) yield break;
        }
    }
}
