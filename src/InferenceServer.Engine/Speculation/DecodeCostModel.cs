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

    public void Observe(int tokens, TimeSpan elapsed)
    {
        if (tokens < 1) return;
        var bucket = Bucket(tokens);
        if (_seconds[bucket] == 0)
        {
            (_tokens[bucket], _seconds[bucket]) = (tokens, elapsed.TotalSeconds);
            return;
        }
        _tokens[bucket] += Weight * (tokens - _tokens[bucket]);
        var change = elapsed.TotalSeconds - _seconds[bucket];
        _seconds[bucket] += (change < 0 ? FallingWeight : RisingWeight) * change;
    }

    /// <summary>
    /// The expected time of a decode of <paramref name="tokens"/>: interpolated linearly in tokens between the nearest
    /// measured buckets around it, or beyond the largest along the slope of the two largest. With one bucket measured
    /// it is taken as the cost of any larger decode too: optimistic on purpose, so that the policy verifies one draft
    /// and so measures what it costs, rather than never learning. Null before any decode of at most that many tokens.
    /// </summary>
    public double? Seconds(int tokens)
    {
        var below = Bucket(tokens);
        while (below >= 0 && (_seconds[below] == 0 || _tokens[below] > tokens)) below--;
        if (below < 0) return null;
        if (_tokens[below] == tokens) return _seconds[below];
        var above = below + 1;
        while (above < Buckets && (_seconds[above] == 0 || _tokens[above] < tokens)) above++;
        if (above == Buckets)
        {
            var before = below - 1;
            while (before >= 0 && _seconds[before] == 0) before--;
            if (before < 0 || _tokens[before] >= _tokens[below]) return _seconds[below];
            var slope = Math.Max(0, (_seconds[below] - _seconds[before]) / (_tokens[below] - _tokens[before]));
            return _seconds[below] + (tokens - _tokens[below]) * slope;
        }
        var at = (tokens - _tokens[below]) / (_tokens[above] - _tokens[below]);
        return _seconds[below] + at * (_seconds[above] - _seconds[below]);
    }

    private static int Bucket(int tokens) => Math.Min(Buckets - 1, (int)Math.Ceiling(Math.Log2(tokens)));
}
