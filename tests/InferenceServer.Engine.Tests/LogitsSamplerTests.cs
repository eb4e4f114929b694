namespace InferenceServer.Engine.Tests;

/// <summary>The managed sampler against the distributions llama.cpp's chain defines (top-k, top-p, min-p at temperature 1, then temperature).</summary>
public class LogitsSamplerTests
{
    private static readonly float[] Logits = [MathF.Log(0.05f), MathF.Log(0.5f), MathF.Log(0.15f), MathF.Log(0.3f)];

    private static double[] Frequencies(SamplingParameters parameters, float[] logits, int draws = 40_000)
    {
        var sampler = new LogitsSampler(parameters);
        var counts = new double[logits.Length];
        for (var i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;
        return counts.Select(c => c / draws).ToArray();
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 0.012, $"token {i}: expected {expected[i]:F3}, drew {actual[i]:F3}");
    }

    [Fact]
    public void Greedy_takes_the_first_largest_logit()
    {
        var sampler = new LogitsSampler(new SamplingParameters(Temperature: 0));
        Assert.Equal(1, sampler.Sample(Logits));
        Assert.Equal(2, sampler.Sample([0f, 1f, 3f, 3f, 2f]));
    }

    [Fact]
    public void Temperature_one_draws_from_the_softmax()
    {
        AssertClose([0.05, 0.5, 0.15, 0.3], Frequencies(new SamplingParameters(Temperature: 1, Seed: 7), Logits));
    }

    [Fact]
    public void Temperature_sharpens_or_flattens_the_distribution()
    {
        // p^(1/T), renormalised.
        static double[] Tempered(double t)
        {
            var w = new[] { 0.05, 0.5, 0.15, 0.3 }.Select(p => Math.Pow(p, 1 / t)).ToArray();
            return w.Select(x => x / w.Sum()).ToArray();
        }
        AssertClose(Tempered(0.5), Frequencies(new SamplingParameters(Temperature: 0.5f, Seed: 3), Logits));
        AssertClose(Tempered(2), Frequencies(new SamplingParameters(Temperature: 2f, Seed: 3), Logits));
    }

    [Fact]
    public void Top_k_keeps_the_k_most_likely_tokens()
    {
        AssertClose([0, 0.5 / 0.8, 0, 0.3 / 0.8], Frequencies(new SamplingParameters(Temperature: 1, Seed: 1) { TopK = 2 }, Logits));
    }

    [Fact]
    public void Top_p_keeps_tokens_until_their_share_reaches_p()
    {
        // Sorted: 0.5, 0.3 (cumulative 0.8), 0.15 (0.95), 0.05.
        AssertClose([0, 0.5 / 0.8, 0, 0.3 / 0.8], Frequencies(new SamplingParameters(Temperature: 1, TopP: 0.79f, Seed: 2), Logits));
        AssertClose([0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95], Frequencies(new SamplingParameters(Temperature: 1, TopP: 0.81f, Seed: 2), Logits));
    }

    [Fact]
    public void Top_p_measures_shares_within_the_top_k_candidates()
    {
        // Top-2 renormalises to 0.625 / 0.375: top-p 0.6 then keeps the first alone.
        AssertClose([0, 1, 0, 0], Frequencies(new SamplingParameters(Temperature: 1, TopP: 0.6f, Seed: 4) { TopK = 2 }, Logits, 2_000));
    }

    [Fact]
    public void Min_p_keeps_tokens_at_least_that_fraction_as_likely_as_the_best()
    {
        // 0.5 × 0.5 = 0.25: keeps 0.5 and 0.3.
        AssertClose([0, 0.5 / 0.8, 0, 0.3 / 0.8], Frequencies(new SamplingParameters(Temperature: 1, Seed: 5) { MinP = 0.5f }, Logits));
        // With top-p 0.4 as well, top-p's shorter prefix wins.
        AssertClose([0, 1, 0, 0], Frequencies(new SamplingParameters(Temperature: 1, TopP: 0.4f, Seed: 5) { MinP = 0.5f }, Logits, 2_000));
    }

    [Fact]
    public void A_flat_vocabulary_with_top_p_sorts_its_way_to_the_prefix()
    {
        // 32,000 tokens: the first 1,000 hold most of the mass; top-p 0.5 keeps only tokens among them.
        var logits = Enumerable.Range(0, 32_000).Select(i => i < 1_000 ? 5f + i * 1e-4f : 0f).ToArray();
        var sampler = new LogitsSampler(new SamplingParameters(Temperature: 1, TopP: 0.5f, Seed: 9));
        var drawn = Enumerable.Range(0, 2_000).Select(_ => sampler.Sample(logits)).ToList();
        Assert.All(drawn, token => Assert.InRange(token, 0, 999));
        Assert.True(drawn.Distinct().Count() > 100, "top-p kept too few tokens");
        // Without truncation, the dense path reaches the tail too.
        var dense = new LogitsSampler(new SamplingParameters(Temperature: 1, Seed: 9));
        Assert.Contains(Enumerable.Range(0, 2_000).Select(_ => dense.Sample(logits)), token => token >= 1_000);
    }

    [Fact]
    public void A_seed_reproduces_its_draws_and_another_seed_does_not()
    {
        var logits = Enumerable.Range(0, 5_000).Select(i => MathF.Sin(i) * 3).ToArray();
        int[] Draws(uint seed)
        {
            var sampler = new LogitsSampler(new SamplingParameters(Temperature: 1, Seed: seed));
            return Enumerable.Range(0, 50).Select(_ => sampler.Sample(logits)).ToArray();
        }
        Assert.Equal(Draws(11), Draws(11));
        Assert.NotEqual(Draws(11), Draws(12));
    }

    [Fact]
    public void Grammar_bias_and_penalties_are_left_to_the_native_chain()
    {
        Assert.True(LogitsSampler.Serves(new SamplingParameters(Temperature: 0.7f, TopP: 0.9f) { TopK = 40, MinP = 0.05f }));
        Assert.False(LogitsSampler.Serves(new SamplingParameters(Grammar: new SamplingGrammar("root ::= \"a\""))));
        Assert.False(LogitsSampler.Serves(new SamplingParameters { LogitBias = new Dictionary<int, float> { [1] = 2f } }));
        Assert.False(LogitsSampler.Serves(new SamplingParameters { PresencePenalty = 0.5f }));
    }
}
