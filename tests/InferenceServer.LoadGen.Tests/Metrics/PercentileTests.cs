using CsCheck;
using InferenceServer.LoadGen.Metrics;

namespace InferenceServer.LoadGen.Tests.Metrics;

public sealed class PercentileTests
{
    [Theory]
    // Hand-computed with rank = p/100·(n-1): for {1,2,3,4}, p90 → rank 2.7 → 3 + 0.7·(4-3).
    [InlineData(new[] { 1.0, 2, 3, 4 }, 50, 2.5)]
    [InlineData(new[] { 1.0, 2, 3, 4 }, 90, 3.7)]
    [InlineData(new[] { 1.0, 2, 3, 4 }, 99, 3.97)]
    [InlineData(new[] { 1.0, 2, 3, 4 }, 0, 1)]
    [InlineData(new[] { 1.0, 2, 3, 4 }, 100, 4)]
    [InlineData(new[] { 10.0, 20, 30 }, 50, 20)]
    [InlineData(new[] { 7.0 }, 99, 7)]
    [InlineData(new[] { 0.0, 100 }, 25, 25)]
    public void Interpolates_linearly_between_ranks(double[] sorted, double percent, double expected) =>
        Assert.Equal(expected, Percentile.OfSorted(sorted, percent), precision: 9);

    [Fact]
    public void Rejects_empty_input_and_out_of_range_percent()
    {
        Assert.Throws<ArgumentException>(() => Percentile.OfSorted([], 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.OfSorted([1.0], 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.OfSorted([1.0], -1));
    }

    [Fact]
    public void Is_monotone_in_percent_and_stays_within_min_and_max() =>
        Gen.Double[-1e6, 1e6].Array[1, 50].Select(Gen.Double[0, 100], Gen.Double[0, 100]).Sample((values, p, q) =>
        {
            double[] sorted = values.Order().ToArray();
            double lo = Percentile.OfSorted(sorted, Math.Min(p, q)), hi = Percentile.OfSorted(sorted, Math.Max(p, q));
            return lo <= hi && lo >= sorted[0] && hi <= sorted[^1];
        });

    [Fact]
    public void Distribution_reports_mean_population_std_and_percentiles_of_unsorted_samples()
    {
        // Classic example: mean 5, population standard deviation 2.
        Distribution d = Distribution.Of([9, 2, 4, 4, 5, 4, 7, 5]);
        Assert.Equal(8, d.Count);
        Assert.Equal(5, d.Mean, 9);
        Assert.Equal(2, d.Std, 9);
        Assert.Equal(4.5, d.Median, 9); // sorted 2,4,4,4,5,5,7,9 → between 4 and 5
        Assert.Equal(2, d.Min);
        Assert.Equal(9, d.Max);
        Assert.Equal(7.6, d.P90, 9); // rank 6.3 → 7 + 0.3·(9-7)
    }

    [Fact]
    public void Distribution_of_nothing_is_empty() => Assert.Equal(Distribution.Empty, Distribution.Of([]));
}
