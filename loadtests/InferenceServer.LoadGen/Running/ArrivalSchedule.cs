namespace InferenceServer.LoadGen.Running;

/// <summary>
/// Open-loop arrival times. Gaps are gamma-distributed with shape = burstiness and mean = 1 / rate:
/// burstiness 1 is a Poisson process, below 1 burstier, above 1 more regular (vLLM's convention).
/// </summary>
internal static class ArrivalSchedule
{
    /// <summary>
    /// Offsets from the start at which each of <paramref name="count"/> arrivals is due. An infinite rate sends
    /// everything at once. The offsets are rescaled so the last lands at count / rate exactly, which keeps the
    /// offered load equal across seeds instead of drifting by the sampling noise of the sum.
    /// </summary>
    public static IReadOnlyList<TimeSpan> Offsets(int count, double requestRate, double burstiness, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requestRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burstiness);
        if (double.IsPositiveInfinity(requestRate) || count == 0)
            return Enumerable.Repeat(TimeSpan.Zero, count).ToList();

        double[] cumulative = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            sum += double.IsPositiveInfinity(burstiness) ? 1 / requestRate : Gamma.Sample(random, burstiness, 1 / (requestRate * burstiness));
            cumulative[i] = sum;
        }
        double scale = sum > 0 ? count / requestRate / sum : 0;
        return cumulative.Select(t => TimeSpan.FromSeconds(t * scale)).ToList();
    }
}

/// <summary>Gamma variates by Marsaglia and Tsang's squeeze method (shape &lt; 1 via the boost U^(1/shape)).</summary>
internal static class Gamma
{
    public static double Sample(Random random, double shape, double scale)
    {
        if (shape < 1)
            return Sample(random, shape + 1, scale) * Math.Pow(1 - random.NextDouble(), 1 / shape);

        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = StandardNormal(random);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1 - random.NextDouble(); // (0, 1]: Log(u) stays finite.
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
                return d * v * scale;
        }
    }

    private static double StandardNormal(Random random)
    {
        // Box–Muller; 1 - NextDouble() is in (0, 1], so the logarithm is finite.
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
