using System.Globalization;
using System.Text.RegularExpressions;
using InferenceServer.ModelDownload;

namespace InferenceServer;

/// <summary>
/// One served model as configured: where its file is (a local path, or a hub file to download), its id and its
/// context. <see cref="KeepAlive"/> null = stays loaded; otherwise unloaded that long after its last request ends.
/// </summary>
internal sealed record ModelSpec(string Id, string? LocalPath, HubFile? Hub, int ContextSize, int Parallel, TimeSpan? KeepAlive, bool OnDemand, string? ChatTemplate)
{
    /// <summary>Ollama's default keep_alive, for models loaded on demand.</summary>
    public static readonly TimeSpan DefaultOnDemandKeepAlive = TimeSpan.FromMinutes(5);

    /// <summary>The models the settings name: the "Models" list, or else the one model of -m / --hf-repo / the default. Throws <see cref="ArgumentException"/>.</summary>
    public static IReadOnlyList<ModelSpec> From(ServerOptions options)
    {
        if (options.Models.Count == 0)
        {
            var hub = ModelSource.HubFileOf(options);
            return [new ModelSpec(options.ResolvedModelId, hub is null ? options.Model : null, hub, options.ContextSize, options.Parallel, null, false, options.ChatTemplate)];
        }
        if (!string.IsNullOrWhiteSpace(options.HfRepo) || !string.IsNullOrWhiteSpace(options.HfFile) || !string.IsNullOrWhiteSpace(options.Model))
            throw new ArgumentException("With several models give each as -m ID=PATH (hf://OWNER/REPO/FILE.gguf for a download), not with --hf-repo/--hf-file or a lone Model setting.");
        if (!string.IsNullOrWhiteSpace(options.ModelId))
            throw new ArgumentException("--model-id names the one model; with several models give each id as -m ID=PATH.");

        var specs = options.Models.Select((entry, i) => FromEntry(entry, i, options)).ToList();
        if (specs.GroupBy(s => s.Id).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new ArgumentException($"Two models have the id '{duplicate.Key}': give each its own with -m ID=PATH.");
        return specs;
    }

    private static ModelSpec FromEntry(ModelEntryOptions entry, int index, ServerOptions options)
    {
        if (string.IsNullOrWhiteSpace(entry.Path)) throw new ArgumentException($"Model {index + 1} has no path: give it as -m ID=PATH.");
        var hub = HubFile.IsHubReference(entry.Path) ? HubFile.Parse(entry.Path) : null;
        var id = !string.IsNullOrWhiteSpace(entry.Id) ? entry.Id : Path.GetFileNameWithoutExtension(hub?.File ?? entry.Path);
        if (entry.ContextSize < 0 || entry.Parallel < 0) throw new ArgumentException($"Model '{id}': ctx and parallel must not be negative.");
        var keepAlive = entry.KeepAlive is { Length: > 0 } text
            ? ParseKeepAlive(text) ?? throw new ArgumentException($"Model '{id}': keep_alive '{text}' is not a duration (30s, 5m, 1h, 1h30m, seconds, or -1 for forever).")
            : (TimeSpan?)null;
        return new ModelSpec(id, hub is null ? entry.Path : null, hub,
            entry.ContextSize > 0 ? entry.ContextSize : options.ContextSize,
            entry.Parallel > 0 ? entry.Parallel : options.Parallel,
            keepAlive switch { null => entry.OnDemand ? DefaultOnDemandKeepAlive : null, var k when k < TimeSpan.Zero => null, var k => k },
            entry.OnDemand, entry.ChatTemplate ?? options.ChatTemplate);
    }

    /// <summary>Ollama's keep_alive forms: a Go duration ("30s", "5m", "1h30m") or a number of seconds; negative = forever. Null when unreadable.</summary>
    public static TimeSpan? ParseKeepAlive(string text)
    {
        text = text.Trim();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(seconds);
        if (text is "forever") return TimeSpan.FromSeconds(-1);
        var parts = Regex.Matches(text, @"(\d+(?:\.\d+)?)(ms|s|m|h)");
        if (parts.Count == 0 || parts.Sum(p => p.Length) != text.Length) return null;
        return parts.Aggregate(TimeSpan.Zero, (total, part) =>
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            return total + part.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                _ => TimeSpan.FromHours(amount),
            };
        });
    }

    /// <summary>A byte count with an optional binary suffix (K, M, G, T; "B"/"iB" allowed): "8G", "512MiB", "1073741824". Null when unreadable.</summary>
    public static long? ParseBytes(string text)
    {
        var match = Regex.Match(text.Trim(), @"^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$", RegexOptions.IgnoreCase);
        if (!match.Success) return null;
        var power = "KMGT".IndexOf(char.ToUpperInvariant(match.Groups[2].Value.FirstOrDefault('_'))) + 1;
        return (long)(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * Math.Pow(1024, power));
    }
}
