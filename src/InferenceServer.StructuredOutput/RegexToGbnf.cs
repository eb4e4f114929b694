using System.Globalization;
using System.Text;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// Translates a practical subset of ECMA-262 regular expressions (JSON Schema "pattern") into a GBNF
/// expression over the JSON-escaped string body. Supported: literals and escapes, ".", classes with
/// ranges and negation, \d \w \s \D \W \S, groups (capturing, (?:), named), alternation,
/// quantifiers * + ? {n} {n,} {n,m} (a lazy "?" suffix is accepted: it changes no language),
/// and ^ / $ at the ends. Anything else (lookaround, backreferences, \b, flags, \p) throws.
/// The grammar spells a subset of the regex's language: what it produces always matches, and
/// characters JSON must escape are written escaped. An unanchored pattern is generated as a full
/// match, which is a subset of "contains a match".
/// </summary>
internal sealed class RegexToGbnf
{
    /// <summary>Largest {n,m} bound accepted; llama.cpp expands repetitions into one rule per step.</summary>
    public const int MaxRepetition = 1000;

    // Decoded characters a JSON string can hold unescaped, minus the quote and the backslash.
    private static readonly (int, int)[] ControlAndSpecial = [(0x00, 0x1F), ('"', '"'), ('\\', '\\')];

    private readonly string _pattern;
    private readonly Func<string, Exception> _unsupported;
    private int _pos;

    private RegexToGbnf(string pattern, Func<string, Exception> unsupported)
    {
        _pattern = pattern;
        _unsupported = unsupported;
    }

    /// <param name="unsupported">Builds the exception for an unsupported construct (detail in).</param>
    public static string Translate(string pattern, Func<string, Exception> unsupported)
    {
        var parser = new RegexToGbnf(pattern, unsupported);
        var expression = parser.ParseAlternation(topLevel: true);
        if (parser._pos != pattern.Length)
            throw unsupported($"unexpected ')' at offset {parser._pos}");
        return expression;
    }

    private bool AtEnd => _pos >= _pattern.Length;
    private char Peek => _pattern[_pos];

    private string ParseAlternation(bool topLevel)
    {
        var branches = new List<string> { ParseSequence(topLevel) };
        while (!AtEnd && Peek == '|')
        {
            _pos++;
            branches.Add(ParseSequence(topLevel));
        }
        var distinct = branches.Distinct().ToList();
        if (distinct.Count == 1)
            return distinct[0];
        return "(" + string.Join(" | ", distinct.Select(b => b.Length == 0 ? "\"\"" : b)) + ")";
    }

    private string ParseSequence(bool topLevel)
    {
        var items = new List<string>();
        if (topLevel && !AtEnd && Peek == '^')
            _pos++;
        while (!AtEnd && Peek != '|' && Peek != ')')
        {
            if (Peek == '$')
            {
                _pos++;
                if (!(topLevel && (AtEnd || Peek == '|')))
                    throw _unsupported("'$' is supported only at the end of the pattern");
                break;
            }
            if (Peek == '^')
                throw _unsupported("'^' is supported only at the start of the pattern");
            var atom = ParseAtom();
            items.Add(ParseQuantifier(atom));
        }
        return string.Join(" ", items.Where(i => i.Length > 0));
    }

    private string ParseQuantifier(string atom)
    {
        if (AtEnd)
            return atom;
        string? result = null;
        switch (Peek)
        {
            case '*': _pos++; result = Wrap(atom) + "*"; break;
            case '+': _pos++; result = Wrap(atom) + "+"; break;
            case '?': _pos++; result = Wrap(atom) + "?"; break;
            case '{':
                int close = _pattern.IndexOf('}', _pos);
                var body = close < 0 ? null : _pattern[(_pos + 1)..close];
                if (body is null || !TryParseBounds(body, out int min, out int? max))
                    return atom; // A "{" that is not a quantifier is a literal in ECMA-262 (Annex B); ParseAtom takes it next.
                if (min > MaxRepetition || max > MaxRepetition)
                    throw _unsupported($"repetition bound above {MaxRepetition}");
                if (max < min)
                    throw _unsupported($"repetition {{{body}}} has max below min");
                _pos = close + 1;
                result = max == min ? $"{Wrap(atom)}{{{min}}}" : max is null ? $"{Wrap(atom)}{{{min},}}" : $"{Wrap(atom)}{{{min},{max}}}";
                break;
        }
        if (result is null)
            return atom;
        if (!AtEnd && Peek == '?')
            _pos++; // lazy: same set of strings
        else if (!AtEnd && (Peek is '*' or '+' || (Peek == '{' && _pattern.IndexOf('}', _pos) > 0 && TryParseBounds(_pattern[(_pos + 1).._pattern.IndexOf('}', _pos)], out _, out _))))
            throw _unsupported("nested quantifier");
        return result;
    }

    private static bool TryParseBounds(string body, out int min, out int? max)
    {
        min = 0;
        max = null;
        var parts = body.Split(',');
        if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out min))
            return false;
        if (parts.Length == 1)
        {
            max = min;
            return true;
        }
        if (parts[1].Length == 0)
            return true;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int m))
            return false;
        max = m;
        return true;
    }

    private static string Wrap(string atom) =>
        atom.Length > 0 && (atom[0] == '[' || (atom[0] == '"' && atom.IndexOf('"', 1) == atom.Length - 1 && !atom.Contains(' ')) || IsSingleGroup(atom))
            ? atom
            : "(" + atom + ")";

    private static bool IsSingleGroup(string atom)
    {
        if (atom[0] != '(' || atom[^1] != ')')
            return false;
        int depth = 0;
        bool inLiteral = false, inClass = false;
        for (int i = 0; i < atom.Length; i++)
        {
            char c = atom[i];
            if (c == '\\') { i++; continue; }
            if (inLiteral) { if (c == '"') inLiteral = false; continue; }
            if (inClass) { if (c == ']') inClass = false; continue; }
            if (c == '"') inLiteral = true;
            else if (c == '[') inClass = true;
            else if (c == '(') depth++;
            else if (c == ')' && --depth == 0 && i != atom.Length - 1) return false;
        }
        return true;
    }

    private string ParseAtom()
    {
        char c = Peek;
        switch (c)
        {
            case '(':
                _pos++;
                if (!AtEnd && Peek == '?')
                {
                    if (_pattern.AsSpan(_pos).StartsWith("?:"))
                        _pos += 2;
                    else if (_pattern.AsSpan(_pos).StartsWith("?<") && _pos + 2 < _pattern.Length && _pattern[_pos + 2] is not ('=' or '!'))
                        _pos = _pattern.IndexOf('>', _pos) is var gt and > 0 ? gt + 1 : throw _unsupported("unterminated group name");
                    else
                        throw _unsupported("lookaround and inline flags are not supported");
                }
                var inner = ParseAlternation(topLevel: false);
                if (AtEnd || Peek != ')')
                    throw _unsupported("unterminated group");
                _pos++;
                return inner.Length == 0 ? "" : "(" + inner + ")";
            case '[':
                return ParseClass();
            case '.':
                _pos++;
                return Emit(new CharSet([(0, 0x10FFFF)]).Without([('\n', '\n'), ('\r', '\r'), (0x2028, 0x2029)]));
            case '\\':
                _pos++;
                return ParseEscapeAtom();
            case '*' or '+' or '?':
                throw _unsupported($"quantifier '{c}' with nothing to repeat");
            default:
                var rune = Rune.GetRuneAt(_pattern, _pos);
                _pos += rune.Utf16SequenceLength;
                return Emit(new CharSet([(rune.Value, rune.Value)]));
        }
    }

    private string ParseEscapeAtom()
    {
        if (AtEnd)
            throw _unsupported("pattern ends with '\\'");
        char c = Peek;
        if (c is 'b' or 'B' or 'A' or 'z' or 'Z' or 'G' or 'k' or 'p' or 'P' or 'c' || char.IsAsciiDigit(c) && c != '0')
            throw _unsupported($"'\\{c}' is not supported");
        return Emit(ParseEscape(inClass: false));
    }

    /// <summary>Reads an escape after the backslash and returns the set of characters it stands for.</summary>
    private CharSet ParseEscape(bool inClass)
    {
        char c = _pattern[_pos++];
        switch (c)
        {
            case 'd': return CharSet.Digit;
            case 'D': return CharSet.Digit.Complement();
            case 'w': return CharSet.Word;
            case 'W': return CharSet.Word.Complement();
            case 's': return CharSet.Space;
            case 'S': return CharSet.Space.Complement();
            case 't': return CharSet.Of('\t');
            case 'n': return CharSet.Of('\n');
            case 'r': return CharSet.Of('\r');
            case 'f': return CharSet.Of('\f');
            case 'v': return CharSet.Of('\v');
            case '0': return CharSet.Of('\0');
            case 'b' when inClass: return CharSet.Of('\b');
            case 'x': return CharSet.Of(ReadHex(2));
            case 'u':
                if (!AtEnd && Peek == '{')
                    throw _unsupported("'\\u{...}' is not supported");
                return CharSet.Of(ReadHex(4));
            default:
                if (char.IsAsciiLetterOrDigit(c))
                    throw _unsupported($"'\\{c}' is not supported");
                return CharSet.Of(c);
        }
    }

    private int ReadHex(int digits)
    {
        if (_pos + digits > _pattern.Length || !int.TryParse(_pattern.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value))
            throw _unsupported("malformed hexadecimal escape");
        _pos += digits;
        return value;
    }

    private string ParseClass()
    {
        _pos++; // '['
        bool negated = false;
        if (!AtEnd && Peek == '^')
        {
            negated = true;
            _pos++;
        }
        var set = new CharSet([]);
        bool first = true;
        while (true)
        {
            if (AtEnd)
                throw _unsupported("unterminated character class");
            if (Peek == ']' && !first)
                break;
            first = false;
            var low = ReadClassItem();
            if (!AtEnd && Peek == '-' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] != ']')
            {
                _pos++;
                var high = ReadClassItem();
                if (low.SingleChar is not { } l || high.SingleChar is not { } h || h < l)
                    throw _unsupported("malformed range in character class");
                set = set.Union(new CharSet([(l, h)]));
            }
            else
            {
                set = set.Union(low);
            }
        }
        _pos++; // ']'
        return Emit(negated ? set.Complement() : set);
    }

    private CharSet ReadClassItem()
    {
        if (Peek == '\\')
        {
            _pos++;
            if (AtEnd)
                throw _unsupported("pattern ends with '\\'");
            return ParseEscape(inClass: true);
        }
        if (Peek == '[' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] is ':' or '=' or '.')
            throw _unsupported("POSIX character classes are not supported");
        var rune = Rune.GetRuneAt(_pattern, _pos);
        _pos += rune.Utf16SequenceLength;
        return CharSet.Of(rune.Value);
    }

    /// <summary>GBNF for one decoded character from <paramref name="set"/>, as it appears inside a JSON string.</summary>
    private string Emit(CharSet set)
    {
        if (set.IsEmpty)
            throw _unsupported("character class matches nothing");
        var options = new List<string>();
        var plain = set.Without(ControlAndSpecial);
        if (!plain.IsEmpty)
            options.Add(plain.Ranges.Count == 1 && plain.Ranges[0].Low == plain.Ranges[0].High
                ? Gbnf.Literal(char.ConvertFromUtf32(plain.Ranges[0].Low))
                : plain.ToGbnf());
        foreach (var (decoded, escaped) in JsonEscapes)
            if (set.Contains(decoded))
                options.Add(Gbnf.Literal(escaped));
        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }

    private static readonly (int Decoded, string Escaped)[] JsonEscapes =
        [('"', "\\\""), ('\\', "\\\\"), ('\n', "\\n"), ('\t', "\\t"), ('\r', "\\r"), ('\b', "\\b"), ('\f', "\\f")];

    /// <summary>A set of code points as sorted, disjoint, non-adjacent inclusive ranges.</summary>
    private sealed class CharSet
    {
        public static readonly CharSet Digit = new([('0', '9')]);
        public static readonly CharSet Word = new([('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]);
        public static readonly CharSet Space = new([('\t', '\r'), (' ', ' '), (0xA0, 0xA0), (0x2028, 0x2029), (0xFEFF, 0xFEFF)]);

        public CharSet(IEnumerable<(int Low, int High)> ranges)
        {
            var sorted = ranges.OrderBy(r => r.Low).ToList();
            var merged = new List<(int Low, int High)>();
            foreach (var r in sorted)
            {
                if (merged.Count > 0 && r.Low <= merged[^1].High + 1)
                    merged[^1] = (merged[^1].Low, Math.Max(merged[^1].High, r.High));
                else
                    merged.Add(r);
            }
            Ranges = merged;
        }

        public IReadOnlyList<(int Low, int High)> Ranges { get; }
        public bool IsEmpty => Ranges.Count == 0;
        public int? SingleChar => Ranges.Count == 1 && Ranges[0].Low == Ranges[0].High ? Ranges[0].Low : null;

        public static CharSet Of(int codePoint) => new([(codePoint, codePoint)]);
        public bool Contains(int c) => Ranges.Any(r => r.Low <= c && c <= r.High);
        public CharSet Union(CharSet other) => new(Ranges.Concat(other.Ranges));

        public CharSet Complement()
        {
            var result = new List<(int, int)>();
            int next = 0;
            foreach (var (low, high) in Ranges)
            {
                if (low > next)
                    result.Add((next, low - 1));
                next = high + 1;
            }
            if (next <= 0x10FFFF)
                result.Add((next, 0x10FFFF));
            return new CharSet(result);
        }

        public CharSet Without(IEnumerable<(int Low, int High)> removed) =>
            new CharSet(Complement().Ranges.Concat(removed)).Complement();

        /// <summary>Positive class, or a negated one when that is shorter (large sets from \D, [^x], ".").
        /// Surrogate code points never appear in JSON text, so they are left out.</summary>
        public string ToGbnf()
        {
            var noSurrogates = Without([(0xD800, 0xDFFF)]);
            var complement = noSurrogates.Complement();
            return complement.Ranges.Count < noSurrogates.Ranges.Count
                ? Gbnf.CharClass(complement.Ranges, negated: true)
                : Gbnf.CharClass(noSurrogates.Ranges);
        }
    }
}
