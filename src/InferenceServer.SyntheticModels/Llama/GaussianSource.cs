namespace InferenceServer.SyntheticModels.Llama;

/// <summary>
/// Seeded normal(0, std) numbers: xoshiro256** seeded through SplitMix64, Box–Muller in single precision.
/// Written out here (not System.Random) so a seed gives the same bytes on every .NET version and platform.
/// Not thread-safe; one instance per stream of numbers.
/// </summary>
internal sealed class GaussianSource
{
    private ulong _s0, _s1, _s2, _s3;

    /// <param name="streamKeys">Seed and any further keys (e.g. tensor index, chunk index) naming an independent stream.</param>
    public GaussianSource(params ReadOnlySpan<ulong> streamKeys)
    {
        var state = 0x9E3779B97F4A7C15UL;
        foreach (var key in streamKeys)
        {
            state = SplitMix64(ref state) ^ key;
        }

        _s0 = SplitMix64(ref state);
        _s1 = SplitMix64(ref state);
        _s2 = SplitMix64(ref state);
        _s3 = SplitMix64(ref state);
    }

    public void Fill(Span<float> destination, float std)
    {
        var i = 0;
        for (; i + 1 < destination.Length; i += 2)
        {
            var (a, b) = NextPair();
            destination[i] = a * std;
            destination[i + 1] = b * std;
        }

        if (i < destination.Length)
        {
            destination[i] = NextPair().First * std;
        }
    }

    private (float First, float Second) NextPair()
    {
        // u1 in (0, 1] so that Log never sees 0; u2 in [0, 1).
        var u1 = ((NextUInt64() >> 40) + 1) * (1.0f / (1 << 24));
        var u2 = (NextUInt64() >> 40) * (1.0f / (1 << 24));
        var radius = MathF.Sqrt(-2f * MathF.Log(u1));
        var (sin, cos) = MathF.SinCos(2f * MathF.PI * u2);
        return (radius * cos, radius * sin);
    }

    private ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
