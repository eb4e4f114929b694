using InferenceServer.LoadGen.Metrics;
using ScottPlot;

namespace InferenceServer.LoadGen.Reports;

/// <summary>PNG charts of a sweep: throughput vs level, and latency percentiles vs level (one chart per metric).</summary>
internal static class ChartWriter
{
    private const int Width = 900, Height = 540;

    /// <returns>The files written.</returns>
    public static IReadOnlyList<string> Write(string directory, RunReport report)
    {
        Directory.CreateDirectory(directory);
        IReadOnlyList<LevelSummary> levels = report.Levels;
        bool openLoop = levels.Count > 0 && levels[0].Concurrency is null;
        string axis = openLoop ? "Request rate (req/s)" : "Concurrency";
        // An infinite rate cannot be placed on an axis; such levels sit one step past the largest finite one.
        double[] xs = AxisValues(levels);
        var written = new List<string>();

        var throughput = new Plot();
        AddLine(throughput, xs, levels.Select(l => l.OutputTokenThroughput), "output tok/s");
        AddLine(throughput, xs, levels.Select(l => l.TotalTokenThroughput), "total tok/s");
        Finish(throughput, $"Throughput vs {axis.ToLowerInvariant()} ({report.Workload})", axis, "tokens / s");
        written.Add(Save(throughput, directory, "throughput.png"));

        var requests = new Plot();
        AddLine(requests, xs, levels.Select(l => l.RequestThroughput), "requests/s");
        if (levels.Any(l => l.Goodput is not null))
            AddLine(requests, xs, levels.Select(l => l.Goodput ?? 0), "goodput req/s");
        Finish(requests, $"Request throughput vs {axis.ToLowerInvariant()}", axis, "requests / s");
        written.Add(Save(requests, directory, "requests.png"));

        foreach ((string name, Func<LevelSummary, Distribution> metric) in new (string, Func<LevelSummary, Distribution>)[]
                 { ("ttft", l => l.TtftMs), ("tpot", l => l.TpotMs), ("itl", l => l.ItlMs), ("e2el", l => l.E2elMs) })
        {
            var plot = new Plot();
            AddLine(plot, xs, levels.Select(l => metric(l).Mean), "mean");
            AddLine(plot, xs, levels.Select(l => metric(l).Median), "p50");
            AddLine(plot, xs, levels.Select(l => metric(l).P90), "p90");
            AddLine(plot, xs, levels.Select(l => metric(l).P99), "p99");
            Finish(plot, $"{name.ToUpperInvariant()} percentiles vs {axis.ToLowerInvariant()}", axis, "milliseconds");
            written.Add(Save(plot, directory, $"latency_{name}.png"));
        }
        return written;
    }

    internal static double[] AxisValues(IReadOnlyList<LevelSummary> levels)
    {
        double[] raw = levels.Select(l => l.Concurrency ?? l.RequestRate ?? 0).ToArray();
        double maxFinite = raw.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        return raw.Select(x => double.IsFinite(x) ? x : maxFinite * 2 + 1).ToArray();
    }

    private static void AddLine(Plot plot, double[] xs, IEnumerable<double> ys, string label)
    {
        var scatter = plot.Add.Scatter(xs, ys.ToArray());
        scatter.LegendText = label;
        scatter.MarkerSize = 7;
    }

    private static void Finish(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(0.1, 0.1);
    }

    private static string Save(Plot plot, string directory, string file)
    {
        string path = Path.Combine(directory, file);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
