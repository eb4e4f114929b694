using InferenceServer.LoadGen.Metrics;
using static InferenceServer.LoadGen.Tests.Metrics.GoodputAndTpotTests;

namespace InferenceServer.LoadGen.Tests.Metrics;

public sealed class LevelSummaryCalculatorTests
{
    private static RequestRecord Failed(FailureKind kind, int? status = null) => new()
    {
        ConversationId = 0, Turn = 0, SentAt = TimeSpan.Zero, EndToEnd = TimeSpan.FromMilliseconds(5),
        Failure = new RequestFailure(kind, status, "x"), UsageReported = true, PromptTokens = 1000, CompletionTokens = 1000,
    };

    [Fact]
    public void Summarizes_throughput_latency_and_errors_over_completed_requests_only()
    {
        RequestRecord[] records =
        [
            Done(100, 500, 5, 100, 100, 100, 100) with { PromptTokens = 20, CachedPromptTokens = 8 },
            Done(300, 700, 3, 200, 200) with { PromptTokens = 30 },
            Failed(FailureKind.HttpStatus, 429),
            Failed(FailureKind.HttpStatus, 429),
            Failed(FailureKind.BrokenStream),
            Done(50, 60, 1) with { Aborted = true },
        ];
        LevelSummary s = LevelSummaryCalculator.Summarize(LoadLevel.Closed(4), records, TimeSpan.FromSeconds(2), [new Slo(SloMetric.Ttft, TimeSpan.FromMilliseconds(200))]);

        Assert.Equal("c=4", s.Label);
        Assert.Equal(6, s.Sent);
        Assert.Equal(2, s.Completed);
        Assert.Equal(3, s.Failed);
        Assert.Equal(1, s.Aborted);
        Assert.Equal(new Dictionary<string, int> { ["broken_stream"] = 1, ["http_429"] = 2 }, s.ErrorsByKind);
        Assert.Equal(50, s.TotalPromptTokens);       // failed and aborted requests contribute nothing
        Assert.Equal(8, s.TotalCachedPromptTokens);
        Assert.Equal(8, s.TotalOutputTokens);
        Assert.Equal(1.0, s.RequestThroughput, 9);  // 2 requests / 2 s
        Assert.Equal(4.0, s.OutputTokenThroughput, 9);
        Assert.Equal(29.0, s.TotalTokenThroughput, 9);
        Assert.Equal(1, s.GoodRequests);             // only the 100 ms TTFT request meets ttft ≤ 200 ms
        Assert.Equal(0.5, s.Goodput!.Value, 9);
        Assert.Equal(200, s.TtftMs.Mean, 9);
        Assert.Equal(6, s.ItlMs.Count);              // ITL pools every gap: 4 + 2
        Assert.Equal(4.0 / 6 * 100 + 2.0 / 6 * 200, s.ItlMs.Mean, 9);
        Assert.Equal(150, s.TpotMs.Median, 9);       // TPOTs (500-100)/4 = 100 and (700-300)/2 = 200
    }

    [Fact]
    public void Tpot_distribution_uses_each_requests_own_tpot()
    {
        RequestRecord[] records = [Done(100, 500, 5), Done(300, 700, 3), Done(0, 100, 1)];
        LevelSummary s = LevelSummaryCalculator.Summarize(LoadLevel.Closed(1), records, TimeSpan.FromSeconds(1), []);
        Assert.Equal(2, s.TpotMs.Count);             // the single-token request has no TPOT
        Assert.Equal(150, s.TpotMs.Mean, 9);         // (100 + 200) / 2
        Assert.Null(s.Goodput);
    }

    [Fact]
    public void Open_loop_labels_show_rate_and_cap()
    {
        Assert.Equal("rate=2.5,max=8", LoadLevel.Open(2.5, 8).Label);
        Assert.Equal("rate=inf", LoadLevel.Open(double.PositiveInfinity, null).Label);
    }
}
