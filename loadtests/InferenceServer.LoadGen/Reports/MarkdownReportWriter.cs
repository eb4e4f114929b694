using System.Globalization;
using System.Text;
using InferenceServer.LoadGen.Metrics;

namespace InferenceServer.LoadGen.Reports;

/// <summary>Appends one section per run to a Markdown file, so a file collects a history of runs.</summary>
internal static class MarkdownReportWriter
{
    public static void Append(string path, RunReport report)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        File.AppendAllText(path, Render(report));
    }

    public static string Render(RunReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## loadgen {report.Workload} run, {report.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(report.CommandLine);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Target: {report.BaseUrl} ({report.Endpoint}), model `{report.Model}`");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {report.Machine.LogicalCores} logical cores, {report.Machine.CpuModel}; {report.Machine.Os}; {report.Machine.Runtime}");
        string slos = report.Levels.FirstOrDefault()?.Slos is { Count: > 0 } s ? string.Join(", ", s) : "none";
        md.AppendLine(CultureInfo.InvariantCulture, $"- SLOs for goodput: {slos}");
        md.AppendLine();
        md.AppendLine("| Level | OK | Failed | Req/s | Output tok/s | Total tok/s | Goodput req/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | ITL p50 / p99 ms | E2E p50 / p99 ms | Errors |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (LevelSummary l in report.Levels)
        {
            md.AppendLine(string.Join(" | ",
                "| " + l.Label, l.Completed, l.Failed, F(l.RequestThroughput, "0.00"), F(l.OutputTokenThroughput, "0.0"), F(l.TotalTokenThroughput, "0.0"),
                l.Goodput is { } g ? F(g, "0.00") : "–",
                Pair(l.TtftMs), Pair(l.TpotMs), Pair(l.ItlMs), Pair(l.E2elMs),
                Errors(l) + " |"));
        }
        md.AppendLine();
        return md.ToString();
    }

    internal static string Errors(LevelSummary level) =>
        level.ErrorsByKind.Count == 0 && level.Aborted == 0
            ? "none"
            : string.Join(", ", level.ErrorsByKind.Select(e => $"{e.Key}×{e.Value}").Concat(level.Aborted > 0 ? [$"aborted×{level.Aborted}"] : []));

    private static string Pair(Distribution d) => d.Count == 0 ? "–" : $"{F(d.Median, "0.0")} / {F(d.P99, "0.0")}";

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
