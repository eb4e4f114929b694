using System.Globalization;
using InferenceServer.LoadGen.Metrics;
using Spectre.Console;

namespace InferenceServer.LoadGen.Reports;

/// <summary>Renders a run as two tables: throughput per level, then latency percentiles per level and metric.</summary>
internal static class ConsoleReport
{
    public static void Render(IAnsiConsole console, RunReport report)
    {
        var throughput = new Table().Title($"[bold]{Markup.Escape(report.Workload)}[/] against {Markup.Escape(report.BaseUrl)} ({Markup.Escape(report.Model)})");
        foreach (string column in new[] { "Level", "OK", "Failed", "Duration s", "Req/s", "Output tok/s", "Total tok/s", "Goodput req/s", "Prompt tok", "Cached tok", "Output tok", "Errors" })
            throughput.AddColumn(new TableColumn(column) { Alignment = column is "Level" or "Errors" ? Justify.Left : Justify.Right });
        foreach (LevelSummary l in report.Levels)
        {
            throughput.AddRow(
                Markup.Escape(l.Label), I(l.Completed), I(l.Failed), F(l.DurationSeconds, "0.00"), F(l.RequestThroughput, "0.00"),
                F(l.OutputTokenThroughput, "0.0"), F(l.TotalTokenThroughput, "0.0"), l.Goodput is { } g ? F(g, "0.00") : "–",
                I(l.TotalPromptTokens), I(l.TotalCachedPromptTokens), I(l.TotalOutputTokens),
                Markup.Escape(MarkdownReportWriter.Errors(l)));
        }
        console.Write(throughput);

        var latency = new Table().Title("Latency (ms)");
        foreach (string column in new[] { "Level", "Metric", "n", "Mean", "Median", "P90", "P99", "Max" })
            latency.AddColumn(new TableColumn(column) { Alignment = column is "Level" or "Metric" ? Justify.Left : Justify.Right });
        foreach (LevelSummary l in report.Levels)
        {
            foreach ((string name, Distribution d) in new[] { ("TTFT", l.TtftMs), ("TPOT", l.TpotMs), ("ITL", l.ItlMs), ("E2EL", l.E2elMs) })
                latency.AddRow(Markup.Escape(l.Label), name, I(d.Count), F(d.Mean, "0.0"), F(d.Median, "0.0"), F(d.P90, "0.0"), F(d.P99, "0.0"), F(d.Max, "0.0"));
        }
        console.Write(latency);

        if (report.Levels.FirstOrDefault()?.Slos is { Count: > 0 } slos)
            console.MarkupLine($"Goodput counts requests meeting all of: {Markup.Escape(string.Join(", ", slos))}");
        int withoutUsage = report.Levels.Sum(l => l.CompletedWithoutUsage);
        if (withoutUsage > 0)
            console.MarkupLine($"[yellow]{withoutUsage} completed request(s) had no usage chunk: their output tokens were counted as content chunks.[/]");
    }

    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
