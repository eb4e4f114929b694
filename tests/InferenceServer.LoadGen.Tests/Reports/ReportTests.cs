using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Reports;

namespace InferenceServer.LoadGen.Tests.Reports;

public sealed class ReportTests
{
    private static LevelSummary Level(string label, int? concurrency, double? rate, Dictionary<string, int> errors, int aborted) => new()
    {
        Label = label, Concurrency = concurrency, RequestRate = rate, DurationSeconds = 2, Sent = 10, Completed = 7, Failed = 2,
        Aborted = aborted, ErrorsByKind = errors, TotalPromptTokens = 700, TotalCachedPromptTokens = 0, TotalOutputTokens = 70,
        CompletedWithoutUsage = 0, RequestThroughput = 3.5, OutputTokenThroughput = 35, TotalTokenThroughput = 385,
        Slos = ["ttft:500ms"], Goodput = 3, GoodRequests = 6,
        TtftMs = new Distribution(7, 120, 5, 110.24, 150, 180.5, 100, 181),
        TpotMs = Distribution.Empty, ItlMs = Distribution.Empty, E2elMs = Distribution.Empty,
    };

    private static RunReport Report(params LevelSummary[] levels) => new()
    {
        CommandLine = "loadgen --concurrency 1,4", StartedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Machine = new MachineInfo(8, "Test CPU 9000", "TestOS", ".NET 10"), BaseUrl = "http://127.0.0.1:1/v1/", Model = "m",
        Endpoint = "chat/completions", Workload = "random", Levels = levels, Requests = [],
    };

    [Fact]
    public void Markdown_section_has_command_date_machine_and_one_row_per_level()
    {
        string md = MarkdownReportWriter.Render(Report(
            Level("c=1", 1, null, [], 0),
            Level("c=4", 4, null, new() { ["http_429"] = 2, ["timeout"] = 1 }, 1)));

        Assert.StartsWith("## loadgen random run, 2026-01-02 03:04:05 UTC", md);
        Assert.Contains("```\nloadgen --concurrency 1,4\n```", md.ReplaceLineEndings("\n"));
        Assert.Contains("8 logical cores, Test CPU 9000", md);
        Assert.Contains("SLOs for goodput: ttft:500ms", md);
        Assert.Contains("| c=1 | 7 | 2 | 3.50 | 35.0 | 385.0 | 3.00 | 110.2 / 180.5 | – | – | – | none |", md);
        Assert.Contains("| c=4 | 7 | 2 | 3.50 | 35.0 | 385.0 | 3.00 | 110.2 / 180.5 | – | – | – | http_429×2, timeout×1, aborted×1 |", md);
    }

    [Fact]
    public void Markdown_appends_rather_than_overwrites()
    {
        string path = Path.Combine(Path.GetTempPath(), $"loadgen-md-{Guid.NewGuid():N}.md");
        try
        {
            MarkdownReportWriter.Append(path, Report(Level("c=1", 1, null, [], 0)));
            MarkdownReportWriter.Append(path, Report(Level("c=2", 2, null, [], 0)));
            string text = File.ReadAllText(path);
            Assert.Contains("| c=1 |", text);
            Assert.Contains("| c=2 |", text);
            Assert.True(text.IndexOf("| c=1 |", StringComparison.Ordinal) < text.IndexOf("| c=2 |", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Chart_axis_places_an_infinite_rate_past_the_largest_finite_one()
    {
        double[] xs = ChartWriter.AxisValues([Level("a", null, 2, [], 0), Level("b", null, double.PositiveInfinity, [], 0), Level("c", null, 4, [], 0)]);
        Assert.Equal([2, 9, 4], xs);
        Assert.Equal([1, 16], ChartWriter.AxisValues([Level("a", 1, null, [], 0), Level("b", 16, null, [], 0)]));
    }
}
