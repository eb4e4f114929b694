using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;
using InferenceServer.Api;
using InferenceServer.Engine;

namespace InferenceServer.Operations;

/// <summary>
/// The server's metrics (OpenTelemetry meter "InferenceServer", exported as Prometheus text on /metrics and by OTLP)
/// and its request spans (activity source "InferenceServer"). Hears each loaded model's engine through
/// <see cref="ObserverFor"/>; engine gauges and per-request metrics carry the tag "model".
/// </summary>
internal sealed class InferenceTelemetry : IDisposable
{
    /// <summary>The activity source's name, and the meter's for the first server in a process.</summary>
    public const string Name = "InferenceServer";

    private static int _instances;

    private static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    private static readonly double[] StepBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2];
    private static readonly double[] RequestBuckets = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960];

    private readonly Meter _meter;
    private readonly ActivitySource _source = new(Name);
    private readonly ConcurrentDictionary<string, (RequestRecord Record, DateTimeOffset SubmittedAt)> _inEngine = new();
    /// <summary>The loaded models' engines, by model id, that the gauges read (one series per model, tagged "model").</summary>
    private readonly ConcurrentDictionary<string, (InferenceEngine Engine, long BytesPerCell)> _engines = new();
    private readonly Counter<long> _promptTokens;
    private readonly Counter<long> _generationTokens;
    private readonly Counter<long> _prefixCacheQueries;
    private readonly Counter<long> _prefixCacheHits;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _draftTokens;
    private readonly Counter<long> _acceptedDraftTokens;
    /// <summary>Draft tokens verified and accepted since start, by model and draft kind, for the acceptance-rate gauge.</summary>
    private readonly ConcurrentDictionary<(string Model, string Kind), StrongBox<(long Drafted, long Accepted)>> _drafts = new();
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _interTokenLatency;
    private readonly Histogram<double> _endToEndLatency;
    private readonly Histogram<double> _queueTime;
    private readonly Histogram<double> _stepPhase;

    public InferenceTelemetry()
    {
        // OpenTelemetry merges same-named meters across every MeterProvider of a process (and disposing one
        // silences the rest), so a second server in one process, as in the tests, gets a meter of its own.
        var instance = Interlocked.Increment(ref _instances);
        _meter = new Meter(instance == 1 ? Name : $"{Name}.{instance}");
        _promptTokens = _meter.CreateCounter<long>("inferenceserver.prompt_tokens", description: "Prompt tokens of finished requests.");
        _generationTokens = _meter.CreateCounter<long>("inferenceserver.generated_tokens", description: "Generated tokens.");
        _prefixCacheQueries = _meter.CreateCounter<long>("inferenceserver.prefix_cache_query_tokens", description: "Prompt tokens looked up in the prefix cache.");
        _prefixCacheHits = _meter.CreateCounter<long>("inferenceserver.prefix_cache_hit_tokens", description: "Prompt tokens found in the prefix cache (not computed).");
        _requests = _meter.CreateCounter<long>("inferenceserver.requests", description: "Finished /v1 requests by HTTP status and finish reason.");
        _draftTokens = _meter.CreateCounter<long>("inferenceserver.speculative_draft_tokens", description: "Draft tokens verified by speculative decoding, by draft kind (prediction, ngram).");
        _acceptedDraftTokens = _meter.CreateCounter<long>("inferenceserver.speculative_accepted_tokens", description: "Draft tokens the model agreed with (output without a decode of their own), by draft kind.");
        _meter.CreateObservableGauge("inferenceserver.speculative_acceptance_ratio", () => _drafts.Select(d =>
            {
                (long Drafted, long Accepted) totals;
                lock (d.Value) totals = d.Value.Value;
                var (drafted, accepted) = totals;
                return new Measurement<double>(drafted == 0 ? 0 : (double)accepted / drafted,
                    new KeyValuePair<string, object?>("model", d.Key.Model), new KeyValuePair<string, object?>("kind", d.Key.Kind));
            }), description: "Accepted over verified draft tokens since start, by model and draft kind.");
        _timeToFirstToken = Seconds("inferenceserver.time_to_first_token", "From submission to the first generated token.", LatencyBuckets);
        _interTokenLatency = Seconds("inferenceserver.inter_token_latency", "Between consecutive tokens of one request.", LatencyBuckets);
        _endToEndLatency = Seconds("inferenceserver.e2e_request_latency", "From submission to the last token.", RequestBuckets);
        _queueTime = Seconds("inferenceserver.request_queue_time", "Waiting for a free sequence.", RequestBuckets);
        _stepPhase = Seconds("inferenceserver.engine_step_phase", "One engine step's time by phase: idle (sleeping before it), schedule, decode, sample, output.", StepBuckets);
        Gauge("inferenceserver.running_sequences", s => s.Running, "Requests holding a sequence.");
        Gauge("inferenceserver.queue_length", s => s.Waiting, "Requests waiting for a sequence.");
        Gauge("inferenceserver.kv_cells_used", s => s.ReservedCells + s.PrefixCache.CachedCells, "KV cells reserved by running requests or held by the prefix cache.");
        Gauge("inferenceserver.kv_cache_usage_ratio", s => s.ContextCells > 0 ? (double)(s.ReservedCells + s.PrefixCache.CachedCells) / s.ContextCells : 0,
            "KV cells in use (reserved or cached), 0 to 1.");
        Gauge("inferenceserver.prefix_cache_cells", s => s.PrefixCache.CachedCells, "KV cells held by the prefix cache (evictable).");
        Gauge("inferenceserver.kv_cells_total", s => s.ContextCells, "KV cells of the context.");
        _meter.CreateObservableGauge("inferenceserver.kv_cache_bytes",
            () => _engines.Select(e => new Measurement<long>(e.Value.Engine.Limits.ContextCells * e.Value.BytesPerCell, new KeyValuePair<string, object?>("model", e.Key))),
            "By", "Bytes of the context's KV cache at its element types (--cache-type-k/-v).");
    }

    public string MeterName => _meter.Name;

    /// <summary>The observer for a model's engine: it records that model's requests, tagged with its id.</summary>
    public IEngineObserver ObserverFor(string modelId) => new ModelObserver(this, new KeyValuePair<string, object?>("model", modelId));

    /// <summary>Starts reporting a loaded model's engine in the gauges; <paramref name="kvBytesPerCell"/> at its cache types.</summary>
    public void AddEngine(string modelId, InferenceEngine engine, long kvBytesPerCell) => _engines[modelId] = (engine, kvBytesPerCell);

    /// <summary>Stops reporting an unloaded model's engine.</summary>
    public void RemoveEngine(string modelId) => _engines.TryRemove(modelId, out _);

    private void Gauge<T>(string name, Func<EngineSnapshot, T> read, string description) where T : struct =>
        _meter.CreateObservableGauge(name, () => _engines.Select(e => new Measurement<T>(read(e.Value.Engine.Snapshot), new KeyValuePair<string, object?>("model", e.Key))),
            description: description);

    private Histogram<double> Seconds(string name, string description, double[] buckets) =>
        _meter.CreateHistogram(name, "s", description, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private void CountDrafts(KeyValuePair<string, object?> model, SpeculationCounts drafts)
    {
        var kind = drafts.Kind switch { DraftKind.Prediction => "prediction", DraftKind.Ngram => "ngram", _ => "draft_model" };
        var tag = new KeyValuePair<string, object?>("kind", kind);
        _draftTokens.Add(drafts.Drafted, model, tag);
        _acceptedDraftTokens.Add(drafts.Accepted, model, tag);
        var totals = _drafts.GetOrAdd(((string)model.Value!, kind), _ => new());
        lock (totals) totals.Value = (totals.Value.Drafted + drafts.Drafted, totals.Value.Accepted + drafts.Accepted);
    }

    /// <summary>Links an engine request to its HTTP request, so the engine's finish reaches the request's record.</summary>
    public void Track(RequestRecord record, string engineRequestId)
    {
        var now = DateTimeOffset.UtcNow;
        record.AddSubmitted(engineRequestId, now);
        _inEngine[engineRequestId] = (record, now);
    }

    /// <summary>Hears one model's engine on its loop thread: every callback is a dictionary look-up and a few instrument updates.</summary>
    private sealed class ModelObserver(InferenceTelemetry telemetry, KeyValuePair<string, object?> model) : IEngineObserver
    {
        private static readonly KeyValuePair<string, object?> Idle = new("phase", "idle"), Schedule = new("phase", "schedule"),
            Decode = new("phase", "decode"), Sample = new("phase", "sample"), Output = new("phase", "output");

        public void StepDecoded(in StepTimings step)
        {
            var phases = telemetry._stepPhase;
            if (step.Idle > TimeSpan.Zero) phases.Record(step.Idle.TotalSeconds, model, Idle);
            phases.Record(step.Schedule.TotalSeconds, model, Schedule);
            phases.Record(step.Decode.TotalSeconds, model, Decode);
            phases.Record(step.Sample.TotalSeconds, model, Sample);
            phases.Record(step.Output.TotalSeconds, model, Output);
        }

        public void RequestAdmitted(string requestId, TimeSpan queueWait)
        {
        }

        public void TokenGenerated(string requestId, TimeSpan? sinceLastToken)
        {
            if (sinceLastToken is { } gap) telemetry._interTokenLatency.Record(gap.TotalSeconds, model);
        }

        public void RequestFinished(string requestId, GenerationFinished finished)
        {
            telemetry._promptTokens.Add(finished.PromptTokens, model);
            telemetry._generationTokens.Add(finished.CompletionTokens, model);
            telemetry._prefixCacheQueries.Add(finished.PromptTokens, model);
            telemetry._prefixCacheHits.Add(finished.CachedPromptTokens, model);
            if (finished.Speculation is { Drafted: > 0 } drafts) telemetry.CountDrafts(model, drafts);
            telemetry._queueTime.Record(finished.Timings.QueueWait.TotalSeconds, model);
            telemetry._endToEndLatency.Record(finished.Timings.Total.TotalSeconds, model);
            if (finished.Timings.TimeToFirstToken is { } ttft) telemetry._timeToFirstToken.Record(ttft.TotalSeconds, model);
            if (telemetry._inEngine.TryRemove(requestId, out var entry)) entry.Record.AddFinished(entry.SubmittedAt, finished);
        }
    }

    /// <summary>
    /// Closes a request: forgets its engine requests (those refused or expired never finish), counts it, and
    /// adds queue, prefill and decode spans under its HTTP span, built after the fact from the engine's timings.
    /// </summary>
    public void Complete(HttpContext http, RequestRecord record)
    {
        foreach (var (engineId, _) in record.Submitted) _inEngine.TryRemove(engineId, out _);
        if (http.Request.Path.StartsWithSegments("/v1"))
        {
            var reason = record.Finished.LastOrDefault().Finished is { } last ? GenerationStreams.FinishReasonName(last.Reason) : "none";
            _requests.Add(1, new KeyValuePair<string, object?>("status", http.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new KeyValuePair<string, object?>("finish_reason", reason));
        }
        if (Activity.Current is not { } parent) return;
        foreach (var (submittedAt, finished) in record.Finished)
        {
            var timings = finished.Timings;
            var admitted = submittedAt + timings.QueueWait;
            var firstToken = timings.TimeToFirstToken is { } ttft ? submittedAt + ttft : (DateTimeOffset?)null;
            var end = submittedAt + timings.Total;
            Span("queue", parent, submittedAt, admitted);
            if (firstToken is { } first)
            {
                Span("prefill", parent, admitted, first, ("gen_ai.usage.input_tokens", finished.PromptTokens), ("inferenceserver.cached_tokens", finished.CachedPromptTokens));
                Span("decode", parent, first, end, ("gen_ai.usage.output_tokens", finished.CompletionTokens));
            }
        }
    }

    private void Span(string name, Activity parent, DateTimeOffset start, DateTimeOffset end, params (string Key, object Value)[] tags)
    {
        using var span = _source.StartActivity(name, ActivityKind.Internal, parent.Context, startTime: start);
        if (span is null) return;
        foreach (var (key, value) in tags) span.SetTag(key, value);
        span.SetEndTime(end.UtcDateTime);
    }

    public void Dispose()
    {
        _meter.Dispose();
        _source.Dispose();
    }
}

/// <summary>Tells several observers what the engine does (the metrics, and any a test adds).</summary>
internal sealed class EngineObservers(IEnumerable<IEngineObserver> observers) : IEngineObserver
{
    private readonly IEngineObserver[] _observers = observers.ToArray();

    public void StepDecoded(in StepTimings step)
    {
        foreach (var observer in _observers) observer.StepDecoded(step);
    }

    public void RequestAdmitted(string requestId, TimeSpan queueWait)
    {
        foreach (var observer in _observers) observer.RequestAdmitted(requestId, queueWait);
    }

    public void TokenGenerated(string requestId, TimeSpan? sinceLastToken)
    {
        foreach (var observer in _observers) observer.TokenGenerated(requestId, sinceLastToken);
    }

    public void RequestFinished(string requestId, GenerationFinished finished)
    {
        foreach (var observer in _observers) observer.RequestFinished(requestId, finished);
    }
}
