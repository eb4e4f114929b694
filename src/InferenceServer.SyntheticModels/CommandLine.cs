using System.Globalization;

namespace InferenceServer.SyntheticModels;

/// <summary>A command-line error, shown to the user with the usage text (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// <c>--name value</c> options, <c>-o</c> for <c>--output</c>, and positional arguments.
/// Every option must be consumed by the command, so a misspelt one is an error, not silently ignored.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (arg == "-o")
            {
                arg = "--output";
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                Positional.Add(arg);
                continue;
            }

            if (i + 1 >= list.Count)
            {
                throw new UsageException($"Option {arg} needs a value.");
            }

            if (!_options.TryAdd(arg[2..], list[++i]))
            {
                throw new UsageException($"Option {arg} is given twice.");
            }
        }
    }

    public List<string> Positional { get; } = [];

    public string? String(string name)
    {
        _consumed.Add(name);
        return _options.GetValueOrDefault(name);
    }

    public string RequiredString(string name) => String(name) ?? throw new UsageException($"Option --{name} is required.");

    public int? Int(string name) => Parse(name, s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public ulong? UInt64(string name) => Parse(name, s => ulong.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public float? Float(string name) => Parse(name, s => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture));

    public IReadOnlyList<string>? List(string name) =>
        String(name)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Throws for any option no one asked for.</summary>
    public void RejectUnknown()
    {
        var unknown = _options.Keys.Where(k => !_consumed.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"Unknown option(s): {string.Join(", ", unknown.Select(k => "--" + k))}.");
        }
    }

    private T? Parse<T>(string name, Func<string, T> parse) where T : struct
    {
        var text = String(name);
        if (text is null)
        {
            return null;
        }

        try
        {
            return parse(text);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"--{name} {text}: {e.Message}");
        }
    }
}
