using System.Globalization;
using System.Text;

namespace InferenceServer.StructuredOutput;

/// <summary>Spelling of GBNF terminals. Everything that is not plain ASCII alphanumeric or space is
/// written as an escape, so no character can close a literal or a class early.</summary>
internal static class Gbnf
{
    /// <summary>A GBNF string literal that matches exactly <paramref name="text"/>.</summary>
    public static string Literal(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (var rune in text.EnumerateRunes())
            AppendEscaped(sb, rune, inClass: false);
        return sb.Append('"').ToString();
    }

    /// <summary>A GBNF character class from inclusive code point ranges, optionally negated.</summary>
    public static string CharClass(IEnumerable<(int Low, int High)> ranges, bool negated = false)
    {
        var sb = new StringBuilder("[");
        if (negated)
            sb.Append('^');
        foreach (var (low, high) in ranges)
        {
            AppendEscaped(sb, new Rune(low), inClass: true);
            if (high != low)
            {
                sb.Append('-');
                AppendEscaped(sb, new Rune(high), inClass: true);
            }
        }
        return sb.Append(']').ToString();
    }

    private static void AppendEscaped(StringBuilder sb, Rune rune, bool inClass)
    {
        int value = rune.Value;
        bool plain = value is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
                     || (value == ' ' && !inClass)
                     || (!inClass && value < 0x7F && value > 0x20 && value != '"' && value != '\\');
        if (plain)
            sb.Append((char)value);
        else if (value <= 0xFF)
            sb.Append("\\x").Append(value.ToString("X2", CultureInfo.InvariantCulture));
        else if (value <= 0xFFFF)
            sb.Append("\\u").Append(value.ToString("X4", CultureInfo.InvariantCulture));
        else
            sb.Append("\\U").Append(value.ToString("X8", CultureInfo.InvariantCulture));
    }
}
