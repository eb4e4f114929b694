using InferenceServer.LoadGen.Running;

namespace InferenceServer.LoadGen.Tests.Running;

public sealed class ArrivalScheduleTests
{
    [Fact]
    public void Infinite_rate_sends_everything_at_once()
    {
        IReadOnlyList<TimeSpan> offsets = ArrivalSchedule.Offsets(5, double.PositiveInfinity, 1, new Random(1));
        Assert.All(offsets, o => Assert.Equal(TimeSpan.Zero, o));
        Assert.Equal(5, offsets.Count);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.3)]
    [InlineData(5.0)]
    [InlineData(double.PositiveInfinity)]
    public void Offsets_increase_and_the_last_lands_at_count_over_rate(double burstiness)
    {
        IReadOnlyList<TimeSpan> offsets = ArrivalSchedule.Offsets(200, 4, burstiness, new Random(7));
        Assert.Equal(50.0, offsets[^1].TotalSeconds, 6); // 200 requests at 4 req/s
        for (int i = 1; i < offsets.Count; i++)
            Assert.True(offsets[i] >= offsets[i - 1]);
    }

    [Fact]
    public void Same_seed_same_schedule_and_different_seed_different_schedule()
    {
        Assert.Equal(ArrivalSchedule.Offsets(20, 3, 1, new Random(42)), ArrivalSchedule.Offsets(20, 3, 1, new Random(42)));
        Assert.NotEqual(ArrivalSchedule.Offsets(20, 3, 1, new Random(42)), ArrivalSchedule.Offsets(20, 3, 1, new Random(43)));
    }

    [Fact]
    public void Lower_burstiness_gives_more_variable_gaps()
    {
        // Gamma gaps with shape k have coefficient of variation 1/√k: 2 for k = 0.25, 1 for Poisson, 0.5 for k = 4.
        double Cv(double burstiness)
        {
            IReadOnlyList<TimeSpan> o = ArrivalSchedule.Offsets(4000, 10, burstiness, new Random(3));
            double[] gaps = o.Select((t, i) => (t - (i == 0 ? TimeSpan.Zero : o[i - 1])).TotalSeconds).ToArray();
            double mean = gaps.Average();
            return Math.Sqrt(gaps.Sum(g => (g - mean) * (g - mean)) / gaps.Length) / mean;
        }
        Assert.InRange(Cv(0.25), 1.7, 2.3);
        Assert.InRange(Cv(1), 0.9, 1.1);
        Assert.InRange(Cv(4), 0.45, 0.55);
    }

    [Theory]
    [InlineData(0.5, 2.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(3.0, 0.5)]
    public void Gamma_samples_have_mean_shape_times_scale_and_variance_shape_times_scale_squared(double shape, double scale)
    {
        var random = new Random(11);
        double[] xs = Enumerable.Range(0, 40_000).Select(_ => Gamma.Sample(random, shape, scale)).ToArray();
        double mean = xs.Average();
        double variance = xs.Sum(x => (x - mean) * (x - mean)) / xs.Length;
        Assert.InRange(mean, shape * scale * 0.97, shape * scale * 1.03);
        Assert.InRange(variance, shape * scale * scale * 0.92, shape * scale * scale * 1.08);
        Assert.All(xs, x => Assert.True(x >= 0));
    }
}
