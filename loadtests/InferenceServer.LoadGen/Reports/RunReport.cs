using InferenceServer.LoadGen.Metrics;

namespace InferenceServer.LoadGen.Reports;

/// <summary>Everything one invocation measured, as written to JSON and rendered by the other reports.</summary>
internal sealed record RunReport
{
    public required string CommandLine { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required MachineInfo Machine { get; init; }
    public required string BaseUrl { get; init; }
    public required string Model { get; init; }
    public required string Endpoint { get; init; }
    public required string Workload { get; init; }
    public required IReadOnlyList<LevelSummary> Levels { get; init; }
    /// <summary>Per-request rows, level by level, for offline analysis; ITL lists are omitted to keep the file small.</summary>
    public required IReadOnlyList<IReadOnlyList<RequestRow>> Requests { get; init; }
}

/// <summary>One request as written to JSON.</summary>
internal sealed record RequestRow(
    int Conversation, int Turn, double SentAtMs, bool Ok, bool Aborted, string? Error, string? ErrorDetail,
    double? TtftMs, double? TpotMs, double E2elMs, int Chunks, int PromptTokens, int CachedTokens, int OutputTokens)
{
    public static RequestRow From(RequestRecord r) => new(
        r.ConversationId, r.Turn, r.SentAt.TotalMilliseconds, r.Succeeded, r.Aborted, r.Failure?.Key, r.Failure?.Detail,
        r.TimeToFirstToken?.TotalMilliseconds, r.TimePerOutputToken?.TotalMilliseconds, r.EndToEnd.TotalMilliseconds,
        r.ContentChunks, r.PromptTokens, r.CachedPromptTokens, r.OutputTokens);
}

/// <summary>The machine the generator ran on (for comparing runs across machines).</summary>
internal sealed record MachineInfo(int LogicalCores, string CpuModel, string Os, string Runtime)
{
    public static MachineInfo Current() => new(
        Environment.ProcessorCount, CpuModelFromProcCpuinfo(),
        System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);

    private static string CpuModelFromProcCpuinfo()
    {
        try
        {
            return ParseCpuModel(File.ReadLines("/proc/cpuinfo")) ?? "unknown";
        }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>The first <c>model name</c> line of /proc/cpuinfo (x86), else <c>Model</c>/<c>Hardware</c> (ARM).</summary>
    internal static string? ParseCpuModel(IEnumerable<string> lines)
    {
        string? fallback = null;
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
                continue;
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (key == "model name" && value.Length > 0)
                return value;
            if (key is "Model" or "Hardware" && value.Length > 0)
                fallback ??= value;
        }
        return fallback;
    }
}
