namespace InferenceServer.LoadGen.Metrics;

/// <summary>How one load level was driven: a fixed number of closed-loop clients, or open-loop arrivals at a rate.</summary>
internal sealed record LoadLevel(int? Concurrency, double? RequestRate, int? MaxConcurrency)
{
    public static LoadLevel Closed(int concurrency) => new(concurrency, null, null);
    public static LoadLevel Open(double requestRate, int? maxConcurrency) => new(null, requestRate, maxConcurrency);

    public bool IsOpenLoop => RequestRate is not null;

    /// <summary>The x value of this level on charts: concurrency, or request rate for open-loop runs.</summary>
    public double AxisValue => Concurrency ?? RequestRate ?? 0;

    public string Label => Concurrency is { } c
        ? $"c={c}"
        : $"rate={(double.IsPositiveInfinity(RequestRate!.Value) ? "inf" : RequestRate.Value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture))}"
          + (MaxConcurrency is { } m ? $",max={m}" : "");
}

/// <summary>Aggregate metrics of one level; latencies in milliseconds, throughputs per second of <see cref="DurationSeconds"/>.</summary>
internal sealed record LevelSummary
{
    public required string Label { get; init; }
    public int? Concurrency { get; init; }
    public double? RequestRate { get; init; }
    public int? MaxConcurrency { get; init; }
    public required double DurationSeconds { get; init; }
    public required int Sent { get; init; }
    public required int Completed { get; init; }
    public required int Failed { get; init; }
    public required int Aborted { get; init; }
    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }
    public required long TotalPromptTokens { get; init; }
    public required long TotalCachedPromptTokens { get; init; }
    public required long TotalOutputTokens { get; init; }
    /// <summary>Completed requests whose token counts had no usage chunk behind them (counted from content chunks instead).</summary>
    public required int CompletedWithoutUsage { get; init; }
    public required double RequestThroughput { get; init; }
    public required double OutputTokenThroughput { get; init; }
    public required double TotalTokenThroughput { get; init; }
    public required IReadOnlyList<string> Slos { get; init; }
    /// <summary>Requests per second that met every SLO; null when no SLO was given.</summary>
    public double? Goodput { get; init; }
    public int? GoodRequests { get; init; }
    public required Distribution TtftMs { get; init; }
    public required Distribution TpotMs { get; init; }
    public required Distribution ItlMs { get; init; }
    public required Distribution E2elMs { get; init; }
}

/// <summary>Turns a level's request records into its summary. Pure: same records, same summary.</summary>
internal static class LevelSummaryCalculator
{
    /// <remarks>
    /// Definitions follow vLLM's serving benchmark: only completed requests feed token totals and latency
    /// distributions; ITL pools every gap of every completed request; throughputs divide by the wall time of the level.
    /// </remarks>
    public static LevelSummary Summarize(LoadLevel level, IReadOnlyList<RequestRecord> records, TimeSpan duration, IReadOnlyList<Slo> slos)
    {
        List<RequestRecord> completed = records.Where(r => r.Succeeded).ToList();
        List<RequestRecord> failed = records.Where(r => r.Failure is not null).ToList();
        double seconds = Math.Max(duration.TotalSeconds, 1e-9);
        long promptTokens = completed.Sum(r => (long)r.PromptTokens);
        long outputTokens = completed.Sum(r => (long)r.OutputTokens);
        int? good = slos.Count > 0 ? Goodput.CountGood(completed, slos) : null;

        return new LevelSummary
        {
            Label = level.Label,
            Concurrency = level.Concurrency,
            RequestRate = level.RequestRate,
            MaxConcurrency = level.MaxConcurrency,
            DurationSeconds = duration.TotalSeconds,
            Sent = records.Count,
            Completed = completed.Count,
            Failed = failed.Count,
            Aborted = records.Count(r => r.Aborted),
            ErrorsByKind = failed.GroupBy(r => r.Failure!.Key).OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count()),
            TotalPromptTokens = promptTokens,
            TotalCachedPromptTokens = completed.Sum(r => (long)r.CachedPromptTokens),
            TotalOutputTokens = outputTokens,
            CompletedWithoutUsage = completed.Count(r => !r.UsageReported),
            RequestThroughput = completed.Count / seconds,
            OutputTokenThroughput = outputTokens / seconds,
            TotalTokenThroughput = (promptTokens + outputTokens) / seconds,
            Slos = slos.Select(s => s.ToString()).ToList(),
            Goodput = good / seconds,
            GoodRequests = good,
            TtftMs = Distribution.Of(completed.Where(r => r.TimeToFirstToken is not null).Select(r => r.TimeToFirstToken!.Value.TotalMilliseconds)),
            TpotMs = Distribution.Of(completed.Where(r => r.TimePerOutputToken is not null).Select(r => r.TimePerOutputToken!.Value.TotalMilliseconds)),
            ItlMs = Distribution.Of(completed.SelectMany(r => r.InterTokenLatencies).Select(t => t.TotalMilliseconds)),
            E2elMs = Distribution.Of(completed.Select(r => r.EndToEnd.TotalMilliseconds)),
        };
    }
}
