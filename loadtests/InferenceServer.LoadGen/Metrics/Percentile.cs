namespace InferenceServer.LoadGen.Metrics;

/// <summary>Order statistics over samples, matching numpy's default (linear interpolation between closest ranks).</summary>
internal static class Percentile
{
    /// <summary>
    /// The <paramref name="percent"/>-th percentile (0..100) of <paramref name="sortedAscending"/>.
    /// For n samples the rank is p/100·(n-1); a fractional rank interpolates linearly between its neighbours.
    /// </summary>
    public static double OfSorted(IReadOnlyList<double> sortedAscending, double percent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        if (sortedAscending.Count == 0)
            throw new ArgumentException("No samples.", nameof(sortedAscending));

        double rank = percent / 100 * (sortedAscending.Count - 1);
        int lower = (int)Math.Floor(rank);
        int upper = Math.Min(lower + 1, sortedAscending.Count - 1);
        double fraction = rank - lower;
        return sortedAscending[lower] + (sortedAscending[upper] - sortedAscending[lower]) * fraction;
    }
}

/// <summary>Summary statistics of one latency metric, in milliseconds. All zero when there are no samples.</summary>
internal sealed record Distribution(int Count, double Mean, double Std, double Median, double P90, double P99, double Min, double Max)
{
    public static readonly Distribution Empty = new(0, 0, 0, 0, 0, 0, 0, 0);

    public static Distribution Of(IEnumerable<double> samples)
    {
        double[] sorted = samples.ToArray();
        if (sorted.Length == 0)
            return Empty;
        Array.Sort(sorted);
        double mean = sorted.Average();
        // Population standard deviation, as numpy.std reports by default.
        double variance = sorted.Sum(x => (x - mean) * (x - mean)) / sorted.Length;
        return new Distribution(
            sorted.Length, mean, Math.Sqrt(variance),
            Percentile.OfSorted(sorted, 50), Percentile.OfSorted(sorted, 90), Percentile.OfSorted(sorted, 99),
            sorted[0], sorted[^1]);
    }
}
