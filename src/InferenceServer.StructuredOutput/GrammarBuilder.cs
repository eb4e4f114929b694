using System.Text;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// Collects named GBNF rules. Identical bodies share one rule, so a schema that repeats a shape
/// (the same enum, the same nested object) costs one rule, not one per use.
/// Invariant: every name handed out is unique and is defined before <see cref="Build"/> returns.
/// </summary>
internal sealed class GrammarBuilder
{
    /// <summary>Upper bound on the grammar text; beyond it llama.cpp's parse and per-token
    /// matching get slow enough to matter, and no realistic response schema comes near.</summary>
    public const int MaxGrammarChars = 256 * 1024;

    private readonly List<(string Name, string? Body)> _rules = [];
    private readonly Dictionary<string, string> _nameByBody = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal) { "root" };
    private readonly Dictionary<string, int> _indexByName = new(StringComparer.Ordinal);

    /// <summary>Returns the name of a rule with this body, adding it if no rule has it yet.</summary>
    public string Rule(string nameHint, string body)
    {
        if (_nameByBody.TryGetValue(body, out var existing))
            return existing;
        var name = Reserve(nameHint);
        Define(name, body);
        return name;
    }

    /// <summary>Hands out a fresh name whose body comes later (for recursive references).</summary>
    public string Reserve(string nameHint)
    {
        var stem = Sanitize(nameHint);
        var name = stem;
        for (int i = 2; !_names.Add(name); i++)
            name = $"{stem}-{i}";
        _indexByName[name] = _rules.Count;
        _rules.Add((name, null));
        return name;
    }

    /// <summary>Names of rules shared across the whole grammar (e.g. "value"), by role.</summary>
    public Dictionary<string, string> Shared { get; } = new(StringComparer.Ordinal);

    public void Define(string name, string body)
    {
        _rules[_indexByName[name]] = (name, body);
        _nameByBody.TryAdd(body, name);
    }

    public string Build(string rootBody)
    {
        var sb = new StringBuilder();
        sb.Append("root ::= ").Append(rootBody).Append('\n');
        foreach (var (name, body) in _rules)
            sb.Append(name).Append(" ::= ").Append(body ?? throw new InvalidOperationException($"rule {name} never defined")).Append('\n');
        return sb.ToString();
    }

    public int ApproximateSize => _rules.Sum(r => r.Name.Length + (r.Body?.Length ?? 0) + 6);

    private static string Sanitize(string hint)
    {
        var sb = new StringBuilder(Math.Min(hint.Length, 40));
        foreach (var c in hint)
        {
            if (sb.Length >= 40)
                break;
            if (char.IsAsciiLetterOrDigit(c))
                sb.Append(char.ToLowerInvariant(c));
            else if (sb.Length > 0 && sb[^1] != '-')
                sb.Append('-');
        }
        var name = sb.ToString().Trim('-');
        // A rule name must not collide with "root" nor be empty.
        return name.Length == 0 ? "rule" : name == "root" ? "root-value" : name;
    }
}
