using InferenceServer.LoadGen.Metrics;

namespace InferenceServer.LoadGen.Tests.Metrics;

public sealed class GoodputAndTpotTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    internal static RequestRecord Done(double ttftMs, double e2eMs, int outputTokens, params double[] itlMs) => new()
    {
        ConversationId = 0, Turn = 0, SentAt = TimeSpan.Zero, EndToEnd = Ms(e2eMs), TimeToFirstToken = Ms(ttftMs),
        InterTokenLatencies = itlMs.Select(Ms).ToList(), ContentChunks = itlMs.Length + 1,
        UsageReported = true, CompletionTokens = outputTokens, PromptTokens = 10,
    };

    [Fact]
    public void Tpot_spreads_decode_time_over_tokens_after_the_first()
    {
        // 1000 ms total, first token at 100 ms, 10 tokens: 900 ms over 9 gaps.
        Assert.Equal(Ms(100), TimePerOutputTokenMath.Compute(Ms(1000), Ms(100), 10));
        Assert.Equal(Ms(400), TimePerOutputTokenMath.Compute(Ms(500), Ms(100), 2));
    }

    [Fact]
    public void Tpot_is_undefined_for_a_single_token_or_no_first_token()
    {
        Assert.Null(TimePerOutputTokenMath.Compute(Ms(500), Ms(100), 1));
        Assert.Null(TimePerOutputTokenMath.Compute(Ms(500), Ms(100), 0));
        Assert.Null(TimePerOutputTokenMath.Compute(Ms(500), null, 5));
    }

    [Fact]
    public void Output_tokens_fall_back_to_content_chunks_without_usage()
    {
        RequestRecord r = Done(100, 400, 99, 100, 100, 100) with { UsageReported = false };
        Assert.Equal(4, r.OutputTokens);
        Assert.Equal(Ms(100), r.TimePerOutputToken);
    }

    [Theory]
    [InlineData("ttft:500ms", "Ttft", 500)]
    [InlineData("tpot:0.05s", "Tpot", 50)]
    [InlineData("e2el:2000", "E2el", 2000)]
    [InlineData("E2E:1.5s", "E2el", 1500)]
    [InlineData("ttft: 1m", "Ttft", 60000)]
    public void Slo_parses_metric_and_limit(string text, string metric, double limitMs)
    {
        Slo slo = Slo.Parse(text);
        Assert.Equal(Enum.Parse<SloMetric>(metric), slo.Metric);
        Assert.Equal(limitMs, slo.Limit.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("ttft")]
    [InlineData("itl:5ms")]
    [InlineData("ttft:fast")]
    [InlineData("ttft:-5ms")]
    public void Slo_rejects_malformed_text(string text) => Assert.Throws<FormatException>(() => Slo.Parse(text));

    [Fact]
    public void A_request_is_good_only_when_every_slo_holds_limits_inclusive()
    {
        Slo[] slos = [new(SloMetric.Ttft, Ms(200)), new(SloMetric.Tpot, Ms(50))];
        Assert.True(Goodput.IsGood(Done(200, 650, 10), slos));   // TTFT exactly at the limit, TPOT 50
        Assert.False(Goodput.IsGood(Done(201, 651, 10), slos));  // TTFT over
        Assert.False(Goodput.IsGood(Done(100, 560, 10), slos));  // TPOT 51.1 over
        Assert.True(Goodput.IsGood(Done(100, 9000, 1), slos));   // one token: TPOT undefined counts as 0
        Assert.False(Goodput.IsGood(Done(10, 20, 2) with { Failure = new RequestFailure(FailureKind.Timeout, null, "") }, slos));
        Assert.Equal(2, Goodput.CountGood([Done(200, 650, 10), Done(201, 651, 10), Done(100, 9000, 1)], slos));
    }

    [Fact]
    public void E2el_slo_bounds_end_to_end_latency()
    {
        Slo[] slos = [new(SloMetric.E2el, Ms(1000))];
        Assert.True(Goodput.IsGood(Done(900, 1000, 3), slos));
        Assert.False(Goodput.IsGood(Done(100, 1001, 3), slos));
    }
}
