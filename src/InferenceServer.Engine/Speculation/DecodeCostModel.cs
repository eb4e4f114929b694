namespace InferenceServer.Engine;

/// <summary>
/// How long a decode of n tokens takes on this machine, learned from the engine's decodes that read every token's
/// logits, as a verification does (not prompt chunks): per power-of-two bucket of n, a weighted mean that follows
/// faster decodes quickly and slower ones slowly (other processes only ever add time, so a spike says little about
/// the decode), interpolated between buckets.
/// On a CPU a decode of 2 tokens can cost 3× one of 1 (another matmul path) and 17 tokens 7× (measured on the 125M
/// synthetic model, docs/speculative-decoding.md), so whether a draft pays is a measurement, not a constant.
/// Engine loop thread only.
/// </summary>
internal sealed class DecodeCostModel
{
    private const int Buckets = 12; // up to 1, 2, 4 … 2048 tokens
    private const double Weight = 0.2;
    private const double FallingWeight = 0.5;
    private const double RisingWeight = 0.05;
    // Per bucket: the weighted mean token count of its decodes and their weighted mean time; 0 = none measured.
    private readonly double[] _tokens = new double[Buckets];
    private readonly double[] _seconds = new double[Buckets];
    // Above this multiple of its estimate a decode is taken for a stall, unless the one before it was too. On 2 CPU
    // cores a bucket's first counted decode reaches 5x (9 tokens against the 1-token estimate taken beyond it).
    private const double StallFactor = 8;
    private readonly bool[] _stalled = new bool[Buckets];
    private readonly bool[] _warm = new bool[Buckets];

    public void Observe(int tokens, TimeSpan elapsed)
    {
        if (tokens < 1) return;
        var bucket = Bucket(tokens);
        // A bucket's first decode is a warm-up: llama.cpp's first decode of a larger batch than before is slower (on 2
        // CPU cores 17 tokens 52 ms, then 39; 63 tokens 141, then 113), a process's first far slower (93 ms for a
        // 2-token decode that then takes 5). Counted, it kept drafts of that size from being verified again to correct it.
        if (!_warm[bucket])
        {
            _warm[bucket] = true;
            return;
        }
        // A stall (a GC, another process) can make one decode 10x slower than decodes of its size are. Counted, it
        // keeps a bucket dear, the policy stops verifying drafts of that size and so never measures it again: a decode
        // over StallFactor x the estimate counts only when the one before it in its bucket was such a decode too.
        if (Seconds(tokens) is { } expected && elapsed.TotalSeconds > StallFactor * expected && !_stalled[bucket])
        {
            _stalled[bucket] = true;
            return;
        }
        _stalled[bucket] = false;
        if (_seconds[bucket] == 0)
        {
            (_tokens[bucket], _seconds[bucket]) = (tokens, elapsed.TotalSeconds);
            return;
        }
        _tokens[bucket] += Weight * (tokens - _tokens[bucket]);
        var change = elapsed.TotalSeconds - _seconds[bucket];
        // For the same reason a slower decode moves the estimate by at most a doubling's share.
        _seconds[bucket] += change < 0 ? FallingWeight * change : RisingWeight * Math.Min(change, _seconds[bucket]);
    }

    /// <summary>
    /// The expected time of a decode of <paramref name="tokens"/>: interpolated linearly in tokens between the nearest
    /// measured buckets around it; beyond the largest, that bucket's time. Optimistic on purpose: the policy then
    /// verifies one longer draft (the slow start bounds how much longer) and so measures what it costs. Extrapolating
    /// instead along the slope of the two largest buckets took a CPU's step from 1 to 2 tokens (2.4x the time) as the
    /// price of every further token: a 63-token decode was estimated at 360-400 ms where it takes 81 (125M model), so
    /// after one 1-token draft no longer draft was ever verified to correct it. Null before any decode of at most that many tokens.
    /// </summary>
    public double? Seconds(int tokens)
    {
        var below = Bucket(tokens);
        while (below >= 0 && (_seconds[below] == 0 || _tokens[below] > tokens)) below--;
        if (below < 0) return null;
        if (_tokens[below] == tokens) return _seconds[below];
        var above = below + 1;
        while (above < Buckets && (_seconds[above] == 0 || _tokens[above] < tokens)) above++;
        if (above == Buckets) return _seconds[below];
        var at = (tokens - _tokens[below]) / (_tokens[above] - _tokens[below]);
        return _seconds[below] + at * (_seconds[above] - _seconds[below]);
    }

    private static int Bucket(int tokens) => Math.Min(Buckets - 1, (int)Math.Ceiling(Math.Log2(tokens)));
}
