using System.Globalization;
using InferenceServer.Contracts;

namespace InferenceServer;

/// <summary>The value of --lora: NAME=PATH, or NAME=PATH:SCALE where SCALE is the adapter's default scale.</summary>
internal static class LoraSpec
{
    /// <exception cref="ArgumentException">Not in that form, or a bad name or scale.</exception>
    public static (string Name, string Path, float Scale) Parse(string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0 || eq == spec.Length - 1)
            throw new ArgumentException($"--lora '{spec}' must be NAME=PATH or NAME=PATH:SCALE.");
        var name = spec[..eq];
        var path = spec[(eq + 1)..];
        var scale = 1f;
        // A trailing ":number" is the scale; any other colon belongs to the path.
        var colon = path.LastIndexOf(':');
        if (colon > 0 && float.TryParse(path[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
        {
            scale = parsed;
            path = path[..colon];
        }
        if (AdapterRules.CheckName(name) is { } badName) throw new ArgumentException($"--lora '{spec}': {badName}");
        if (AdapterRules.CheckScale(scale) is { } badScale) throw new ArgumentException($"--lora '{spec}': {badScale}");
        return (name, path, scale);
    }
}
