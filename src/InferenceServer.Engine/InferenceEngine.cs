using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Engine;

/// <summary>The engine refused a request because its wait queue is full.</summary>
public sealed class EngineOverloadedException(int queueLimit)
    : Exception($"The server is busy: {queueLimit} requests are already waiting. Retry shortly.")
{
    public int QueueLimit { get; } = queueLimit;
}

/// <summary>The engine ended a request that waited longer than <see cref="EngineOptions.MaxQueueWait"/> for a sequence.</summary>
public sealed class QueueWaitExceededException(TimeSpan limit)
    : Exception($"The server is busy: the request waited {limit.TotalSeconds:0.#} s for a free sequence. Retry shortly.")
{
    public TimeSpan Limit { get; } = limit;
}

public sealed record EngineOptions
{
    /// <summary>Most requests waiting for a sequence; beyond it <see cref="InferenceEngine.Submit"/> refuses.</summary>
    public int MaxQueuedRequests { get; init; } = 256;

    /// <summary>Most prompt tokens of one sequence in one decode (the rest follow in later steps).</summary>
    public int MaxPrefillChunk { get; init; } = int.MaxValue;

    /// <summary>Reuse the KV of prompt prefixes computed by earlier or running requests.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Longest a request may wait for a sequence; older waiting requests end with <see cref="QueueWaitExceededException"/>. Null = no limit.</summary>
    public TimeSpan? MaxQueueWait { get; init; }

    /// <summary>Speculative decoding: the server's drafter and the policy; predictions are drafted whatever it says.</summary>
    public SpeculationOptions Speculation { get; init; } = SpeculationOptions.Default;

    /// <summary>
    /// A request's text goes to its channel once this many tokens were generated since the last send (the first text
    /// at once, what is left when it ends), as one delta: fewer events per token where each event costs more than the
    /// decode of its token (vLLM's --stream-interval). 1 = every token's text as it comes.
    /// </summary>
    public int StreamInterval { get; init; } = 1;
}

/// <summary>A point-in-time view of the engine, for health and metrics. KV cells in use = reserved + cached.</summary>
public sealed record EngineSnapshot(int Running, int Waiting, int ReservedCells, int ContextCells, long Steps, PrefixCacheStats PrefixCache);

/// <summary>
/// Continuous batching over one model: a single loop on a dedicated thread schedules, decodes once per
/// step for every running sequence, samples, and publishes each request's text to its own channel.
/// Thread-safety: <see cref="Submit"/> and <see cref="Snapshot"/> may be called from any thread.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly IModelExecutor _executor;
    private readonly ITokenizer _tokenizer;
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly IEngineObserver _observer;
    private readonly TimeProvider _clock;
    private readonly TimeProvider _deadlineClock;
    private readonly Scheduler _scheduler;
    private readonly Speculator _speculator;
    private readonly ConcurrentQueue<Sequence> _inbox = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _loop;
    private int _queued;
    // Set by any thread that cancels a request; spares the loop a scan of every sequence on every step.
    private int _cancellationPending;
    // The adapters the executor's context decodes under now.
    private AdapterSet _applied = AdapterSet.Base;
    private volatile EngineSnapshot _snapshot;
    private long _steps;
    // Reused every step: the sample phase fills it, the update phase applies and clears it.
    private readonly List<SampledToken> _samples = [];
    // How long the loop slept since the last step, reported with the next one.
    private TimeSpan _idleBeforeStep;

    /// <param name="clock">Times steps and requests (metrics, timings); the system clock by default.</param>
    /// <param name="deadlineClock">
    /// Decides when a waiting request has waited past <see cref="EngineOptions.MaxQueueWait"/>; <paramref name="clock"/> by default.
    /// The host passes its <see cref="TimeProvider"/>, so a test can move queue deadlines without bending every timing.
    /// </param>
    public InferenceEngine(IModelExecutor executor, ITokenizer tokenizer, EngineOptions options, ILogger<InferenceEngine> logger,
        IEngineObserver? observer = null, TimeProvider? clock = null, TimeProvider? deadlineClock = null)
    {
        _executor = executor;
        _tokenizer = tokenizer;
        _options = options;
        _logger = logger;
        _observer = observer ?? NullEngineObserver.Instance;
        _clock = clock ?? TimeProvider.System;
        _deadlineClock = deadlineClock ?? _clock;
        _scheduler = new Scheduler(executor.Limits, executor, options.PrefixCaching, options.MaxPrefillChunk);
        _speculator = new Speculator(options.Speculation, executor, tokenizer.PieceBytes, logger);
        _snapshot = new EngineSnapshot(0, 0, 0, executor.Limits.ContextCells, 0, _scheduler.CacheStats);
        _loop = new Thread(RunLoop) { Name = "inference-engine", IsBackground = true };
        _loop.Start();
    }

    public ModelLimits Limits => _executor.Limits;

    /// <summary>Longest prompt plus completion one request may have, in tokens.</summary>
    public int MaxSequenceTokens => Math.Min(Limits.TrainedContextLength, Limits.CellsPerSequence);

    public EngineSnapshot Snapshot => _snapshot;

    /// <summary>Requests submitted and not yet admitted or ended, counted as <see cref="Submit"/> returns (unlike <see cref="Snapshot"/>, published once per step).</summary>
    public int QueuedRequests => Volatile.Read(ref _queued);

    /// <summary>
    /// Queues a request. The returned channel yields its text and ends with one <see cref="GenerationFinished"/>;
    /// cancelling <paramref name="cancellationToken"/> frees its sequence at the next step.
    /// </summary>
    /// <exception cref="EngineOverloadedException">The wait queue is full.</exception>
    /// <exception cref="AdapterUnloadedException">One of the request's adapters was unloaded meanwhile.</exception>
    public ChannelReader<GenerationEvent> Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        var total = request.PromptTokens.Length + request.MaxNewTokens;
        if (request.PromptTokens.Length == 0 || request.MaxNewTokens < 1 || total > MaxSequenceTokens)
            throw new ArgumentException($"A request needs 1..{MaxSequenceTokens} tokens of prompt plus completion, and at least one of each.", nameof(request));
        // Stamped before the request counts as queued: whoever sees it counted may move the clocks on.
        var submittedAt = _clock.GetTimestamp();
        var queuedAt = _deadlineClock.GetTimestamp();

        if (Interlocked.Increment(ref _queued) > _options.MaxQueuedRequests)
        {
            Interlocked.Decrement(ref _queued);
            throw new EngineOverloadedException(_options.MaxQueuedRequests);
        }
        // Held until End: an adapter is never freed while a request that uses it can still be decoded.
        if (request.Adapters.TryAcquireAll() is { } unloaded)
        {
            Interlocked.Decrement(ref _queued);
            throw new AdapterUnloadedException(unloaded);
        }

        var channel = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var sequence = new Sequence(request) { Output = channel.Writer, SubmittedAt = submittedAt, QueuedAt = queuedAt };
        sequence.CancelRegistration = cancellationToken.Register(() =>
        {
            sequence.CancelRequested = true;
            _cancellationPending = 1;
            Wake();
        });
        _inbox.Enqueue(sequence);
        Wake();
        return channel.Reader;
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (ObjectDisposedException)
        {
            // The engine has stopped; every sequence was already ended.
        }
    }

    private void RunLoop()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (Step()) continue;
                var sleeping = _clock.GetTimestamp();
                _wake.Wait(IdleWait, _stop.Token);
                _idleBeforeStep += _clock.GetElapsedTime(sleeping);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogCritical(ex, "The engine loop failed; every request in flight is ended");
        }
        finally
        {
            foreach (var sequence in _scheduler.Admitted.Concat(_scheduler.Waiting).Concat(_inbox).ToList())
                End(sequence, new OperationCanceledException("The engine stopped."), keepInCache: false);
        }
    }

    /// <summary>
    /// One engine step: schedule, decode, sample every sequence's token, then apply the tokens (output, finishes).
    /// Returns false when there was nothing to do.
    /// </summary>
    private bool Step()
    {
        var started = _clock.GetTimestamp();
        while (_inbox.TryDequeue(out var arrived))
        {
            _scheduler.Enqueue(arrived);
            // Cancelled while still in the inbox, possibly after an earlier scan cleared the flag.
            if (arrived.CancelRequested) _cancellationPending = 1;
        }
        DropCancelled();
        foreach (var sequence in _scheduler.Admit()) Start(sequence);
        DropExpired();
        _speculator.Propose(_scheduler.Admitted);

        var plan = _scheduler.Schedule();
        PublishSnapshot();
        if (plan.IsEmpty) return false;

        var scheduled = _clock.GetTimestamp();
        try
        {
            if (!plan.Adapters.Equals(_applied))
            {
                _executor.ApplyAdapters(plan.Adapters);
                _applied = plan.Adapters;
            }
            _executor.Decode(plan.Batch);
        }
        catch (Exception ex)
        {
            _scheduler.RemoveFillers(plan);
            var failed = new HashSet<SequenceSlot>(plan.Batch.Select(t => t.Slot).Except(plan.Fillers.Select(t => t.Slot)));
            _logger.LogError(ex, "Decode of {Tokens} tokens failed; ending the {Count} requests in it", plan.Batch.Count, failed.Count);
            foreach (var sequence in _scheduler.Admitted.Where(s => failed.Contains(s.Slot)).ToList()) End(sequence, ex, keepInCache: false);
            return true;
        }
        var decoded = _clock.GetTimestamp();
        _speculator.Decoded(plan.Batch, _clock.GetElapsedTime(scheduled, decoded));

        _steps++;
        _scheduler.Decoded(plan);
        ScorePrompts(plan);
        var generatedFed = SampleAll(plan);
        var sampled = _clock.GetTimestamp();
        ApplySamples();
        var applied = _clock.GetTimestamp();

        _observer.StepDecoded(new StepTimings(plan.Batch.Count - plan.Fillers.Count - generatedFed, generatedFed, _idleBeforeStep,
            _clock.GetElapsedTime(started, scheduled), _clock.GetElapsedTime(scheduled, decoded),
            _clock.GetElapsedTime(decoded, sampled), _clock.GetElapsedTime(sampled, applied)));
        _idleBeforeStep = TimeSpan.Zero;
        return true;
    }

    /// <summary>
    /// The sample phase: picks every sampled sequence's next token from this step's logits, into
    /// <see cref="_samples"/>, changing no sequence. A sequence with a draft in the batch samples each of its rows
    /// in turn while the samples agree with the draft: the first that differs, or the row after the whole draft,
    /// is its last. Returns how many of the batch's tokens were generated ones fed back (the rest were prompt tokens).
    /// </summary>
    private int SampleAll(StepPlan plan)
    {
        _samples.Clear();
        var generatedFed = 0;
        foreach (var (sequence, batchIndex) in plan.Samples)
        {
            var draft = sequence.Speculation?.InFlight ?? [];
            if (sequence.GeneratedTokens > 0) generatedFed++;
            generatedFed += draft.Length;
            for (var row = 0; ; row++)
            {
                var sample = SampleOne(sequence, batchIndex + row);
                _samples.Add(sample with { DraftAccepted = row });
                if (sample.Error is not null || row == draft.Length || sample.Token != draft[row]) break;
            }
        }
        return generatedFed;
    }

    private SampledToken SampleOne(Sequence sequence, int batchIndex)
    {
        try
        {
            var token = sequence.Sampler!.Sample(batchIndex);
            var logprob = sequence.Request.Logprobs is { } top ? TokenLogprob.Of(_executor.Logits(batchIndex), token, top) : null;
            return new SampledToken(sequence, token, logprob, null);
        }
        catch (Exception ex)
        {
            // One request's sampler failing (a grammar with no way forward) ends that request only.
            return new SampledToken(sequence, -1, null, ex);
        }
    }

    /// <summary>
    /// The update phase: a drafted sequence first drops its rejected draft cells (its run of samples ends at the
    /// first disagreement, so the last sample's row counts the accepted draft tokens); then each sampled token
    /// becomes output, or ends its sequence, and the tokens after an ending are dropped.
    /// </summary>
    private void ApplySamples()
    {
        for (var i = 0; i < _samples.Count; i++)
        {
            var (sequence, token, logprob, error, _) = _samples[i];
            if (sequence.Speculation is { InFlight.Length: > 0 })
            {
                var last = i;
                while (last + 1 < _samples.Count && _samples[last + 1].Sequence == sequence) last++;
                _speculator.Settle(sequence, _samples[last].Error is null ? _samples[last].DraftAccepted : 0);
            }
            if (sequence.Status == SequenceStatus.Finished) continue;
            if (error is null)
            {
                Accept(sequence, token, logprob);
                continue;
            }
            _logger.LogWarning(error, "Sampling failed for request {RequestId}", sequence.Request.Id);
            End(sequence, error, keepInCache: false);
        }
        _samples.Clear();
    }

    /// <summary>One sequence's pick in a step's sample phase: a token (and its logprobs when asked for), or the sampler's failure;
    /// <see cref="DraftAccepted"/> is how many draft tokens before this row the samples agreed with.</summary>
    private readonly record struct SampledToken(Sequence Sequence, int Token, TokenLogprob? Logprob, Exception? Error, int DraftAccepted = 0);

    /// <summary>Each scored prompt token's logits row gives the log probability of the prompt token after it; sent once the prompt is done.</summary>
    private void ScorePrompts(StepPlan plan)
    {
        foreach (var (sequence, batchIndex) in plan.PromptRows)
        {
            var prompt = sequence.Request.PromptTokens;
            var scored = sequence.PromptLogprobs ??= new List<TokenLogprob>(prompt.Length - 1);
            scored.Add(TokenLogprob.Of(_executor.Logits(batchIndex), prompt[plan.Batch[batchIndex].Position + 1], sequence.Request.Logprobs ?? 0));
            if (scored.Count == prompt.Length - 1) sequence.Output!.TryWrite(new PromptLogprobs(scored));
        }
    }

    private void Start(Sequence sequence)
    {
        Interlocked.Decrement(ref _queued);
        sequence.AdmittedAt = _clock.GetTimestamp();
        _observer.RequestAdmitted(sequence.Request.Id, _clock.GetElapsedTime(sequence.SubmittedAt, sequence.AdmittedAt));
        var sampling = sequence.Request.Sampling;
        var sampler = _executor.CreateSampler(sampling with { LazyGrammar = null });
        sequence.Sampler = sampling.LazyGrammar is null ? sampler : new LazyGrammarSampler(sampler, sampling, _executor, _tokenizer);
        sequence.Speculation = _speculator.Begin(sequence.Request);
        sequence.Decoder = _tokenizer.CreateDecoder();
        sequence.Stops = new StopMatcher(sequence.Request.StopSequences);
        // A one-token prompt has nothing to score, and no prefill step would send its (empty) scores.
        if (sequence.Request.PromptLogprobs && sequence.PromptLength == 1) sequence.Output!.TryWrite(new PromptLogprobs([]));
    }

    /// <summary>Turns a sampled token into output, and ends the sequence when it is done.</summary>
    private void Accept(Sequence sequence, int token, TokenLogprob? logprob)
    {
        sequence.GeneratedTokens++;
        var now = _clock.GetTimestamp();
        _observer.TokenGenerated(sequence.Request.Id, sequence.LastTokenAt == 0 ? null : _clock.GetElapsedTime(sequence.LastTokenAt, now));
        if (sequence.FirstTokenAt == 0) sequence.FirstTokenAt = now;
        sequence.LastTokenAt = now;
        if (!sequence.Request.IgnoreEndOfGeneration && _tokenizer.IsEndOfGeneration(token))
        {
            // Text the stop matcher held back, waiting to see whether a stop sequence follows, is output after all.
            var held = sequence.Stops!.Flush();
            if (held.Length > 0) Send(sequence, held);
            Finish(sequence, FinishReason.Stop);
            return;
        }

        if (logprob is not null) (sequence.HeldLogprobs ??= []).Add(logprob);
        var text = sequence.Stops!.Push(sequence.Decoder!.Add(token));
        if (text.Length > 0) Send(sequence, text);
        if (sequence.Stops.Stopped)
        {
            // Tokens still held are the stop sequence's own: neither their text nor their logprobs are sent.
            Finish(sequence, FinishReason.Stop);
        }
        else if (sequence.GeneratedTokens >= sequence.Request.MaxNewTokens)
        {
            var held = sequence.Stops.Flush();
            if (held.Length > 0) Send(sequence, held);
            Finish(sequence, FinishReason.Length);
        }
        else
        {
            sequence.PendingToken = token;
        }
    }

    private void Send(Sequence sequence, string text)
    {
        // The held logprobs are those of the tokens this text ends: they go with it, not with later text.
        var logprobs = sequence.HeldLogprobs;
        sequence.HeldLogprobs = null;
        var due = sequence.SentAtToken == 0 || sequence.GeneratedTokens - sequence.SentAtToken >= _options.StreamInterval;
        if (due && sequence.Unsent.Length == 0)
        {
            Write(sequence, text, logprobs);
            return;
        }
        sequence.Unsent.Append(text);
        if (logprobs is not null) (sequence.UnsentLogprobs ??= []).AddRange(logprobs);
        if (due) SendUnsent(sequence);
    }

    /// <summary>Writes the text <see cref="Send"/> held back; before a request ends, whatever the interval.</summary>
    private static void SendUnsent(Sequence sequence)
    {
        if (sequence.Unsent.Length == 0) return;
        Write(sequence, sequence.Unsent.ToString(), sequence.UnsentLogprobs);
        sequence.Unsent.Clear();
        sequence.UnsentLogprobs = null;
    }

    private static void Write(Sequence sequence, string text, List<TokenLogprob>? logprobs)
    {
        sequence.Output!.TryWrite(new TextDelta(text, logprobs));
        sequence.SentAtToken = sequence.GeneratedTokens;
    }

    private void DropCancelled()
    {
        if (Interlocked.Exchange(ref _cancellationPending, 0) == 0) return;
        foreach (var sequence in _scheduler.Admitted.Concat(_scheduler.Waiting).Where(s => s.CancelRequested).ToList())
            Finish(sequence, FinishReason.Cancelled);
    }

    /// <summary>
    /// Ends requests still waiting (after this step's admissions) that are older than the queue-wait limit,
    /// so a client learns to retry instead of hanging.
    /// </summary>
    private void DropExpired()
    {
        if (_options.MaxQueueWait is not { } limit) return;
        var now = _deadlineClock.GetTimestamp();
        foreach (var sequence in _scheduler.Waiting.Where(s => _deadlineClock.GetElapsedTime(s.QueuedAt, now) > limit).ToList())
            End(sequence, new QueueWaitExceededException(limit), keepInCache: false);
    }

    /// <summary>How long an idle loop sleeps: woken by arrivals and cancellations, and often enough to expire waiting requests.</summary>
    private TimeSpan IdleWait => _options.MaxQueueWait is { } limit && _scheduler.WaitingCount > 0
        ? TimeSpan.FromMilliseconds(Math.Clamp(limit.TotalMilliseconds / 4, 1, 1000))
        : Timeout.InfiniteTimeSpan;

    private void Finish(Sequence sequence, FinishReason reason)
    {
        SendUnsent(sequence);
        var now = _clock.GetTimestamp();
        var timings = new GenerationTimings(
            QueueWait: _clock.GetElapsedTime(sequence.SubmittedAt, sequence.AdmittedAt == 0 ? now : sequence.AdmittedAt),
            TimeToFirstToken: sequence.FirstTokenAt == 0 ? null : _clock.GetElapsedTime(sequence.SubmittedAt, sequence.FirstTokenAt),
            Total: _clock.GetElapsedTime(sequence.SubmittedAt, now));
        var finished = new GenerationFinished(reason, sequence.PromptLength, sequence.GeneratedTokens, timings, sequence.CachedTokens)
        {
            Speculation = sequence.Speculation?.Counts,
            StopSequence = sequence.Stops?.Matched,
        };
        // The observer hears of the finish before the client can, so a request's metrics, spans and log line are complete when its response ends.
        _observer.RequestFinished(sequence.Request.Id, finished);
        sequence.Output!.TryWrite(finished);
        End(sequence, error: null, keepInCache: true);
    }

    /// <summary>Releases everything a sequence holds and completes its channel (with the error, if any).</summary>
    private void End(Sequence sequence, Exception? error, bool keepInCache)
    {
        if (sequence.Status == SequenceStatus.Waiting) Interlocked.Decrement(ref _queued);
        _speculator.End(sequence);
        _scheduler.Release(sequence, keepInCache);
        sequence.Request.Adapters.ReleaseAll();
        sequence.Sampler?.Dispose();
        sequence.CancelRegistration.Dispose();
        // Text held for the stream interval goes before the error that ends the stream.
        SendUnsent(sequence);
        sequence.Output!.TryComplete(error);
    }

    private void PublishSnapshot() =>
        _snapshot = new EngineSnapshot(_scheduler.RunningCount, _scheduler.WaitingCount + _inbox.Count,
            _scheduler.ReservedCells, Limits.ContextCells, _steps, _scheduler.CacheStats);

    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _loop.Join();
        _wake.Dispose();
        _stop.Dispose();
    }
}
