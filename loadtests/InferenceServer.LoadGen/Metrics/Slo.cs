using System.Globalization;

namespace InferenceServer.LoadGen.Metrics;

/// <summary>The per-request metrics an SLO can bound (the ones vLLM's goodput supports).</summary>
internal enum SloMetric { Ttft, Tpot, E2el }

/// <summary>A service-level objective: a request is good on this metric when its value is at most <see cref="Limit"/>.</summary>
internal sealed record Slo(SloMetric Metric, TimeSpan Limit)
{
    /// <summary>Parses <c>ttft:500ms</c>, <c>tpot:0.05s</c>, <c>e2el:10s</c>; a bare number is milliseconds.</summary>
    public static Slo Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0)
            throw new FormatException($"SLO '{text}' must look like ttft:500ms.");
        SloMetric metric = text[..colon].Trim().ToLowerInvariant() switch
        {
            "ttft" => SloMetric.Ttft,
            "tpot" => SloMetric.Tpot,
            "e2el" or "e2e" => SloMetric.E2el,
            var other => throw new FormatException($"Unknown SLO metric '{other}' (use ttft, tpot or e2el)."),
        };
        TimeSpan limit = DurationText.Parse(text[(colon + 1)..], bareUnit: TimeSpan.FromMilliseconds(1));
        return new Slo(metric, limit);
    }

    public override string ToString() =>
        $"{Metric.ToString().ToLowerInvariant()}:{Limit.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms";
}

/// <summary>Whether completed requests meet every SLO at once (vLLM's goodput rule).</summary>
internal static class Goodput
{
    /// <summary>
    /// A request is good when every SLO holds (value ≤ limit). A request with an undefined TPOT
    /// (one output token) counts as TPOT 0, and one without a first token as TTFT = end-to-end, so short answers are not
    /// penalised for a metric they cannot have.
    /// </summary>
    public static bool IsGood(RequestRecord request, IReadOnlyList<Slo> slos)
    {
        if (!request.Succeeded)
            return false;
        foreach (Slo slo in slos)
        {
            TimeSpan value = slo.Metric switch
            {
                SloMetric.Ttft => request.TimeToFirstToken ?? request.EndToEnd,
                SloMetric.Tpot => request.TimePerOutputToken ?? TimeSpan.Zero,
                SloMetric.E2el => request.EndToEnd,
                _ => throw new ArgumentOutOfRangeException(nameof(slos)),
            };
            if (value > slo.Limit)
                return false;
        }
        return true;
    }

    public static int CountGood(IEnumerable<RequestRecord> requests, IReadOnlyList<Slo> slos) =>
        requests.Count(r => IsGood(r, slos));
}

/// <summary>Parses durations like <c>500ms</c>, <c>2s</c>, <c>1.5m</c>; a bare number is in <c>bareUnit</c>.</summary>
internal static class DurationText
{
    public static TimeSpan Parse(string text, TimeSpan bareUnit)
    {
        string t = text.Trim().ToLowerInvariant();
        (string number, TimeSpan unit) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], TimeSpan.FromMilliseconds(1)),
            _ when t.EndsWith('s') => (t[..^1], TimeSpan.FromSeconds(1)),
            _ when t.EndsWith('m') => (t[..^1], TimeSpan.FromMinutes(1)),
            _ when t.EndsWith('h') => (t[..^1], TimeSpan.FromHours(1)),
            _ => (t, bareUnit),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0 || !double.IsFinite(value))
            throw new FormatException($"'{text}' is not a duration (examples: 500ms, 2s, 5m).");
        return unit * value;
    }
}
