using System.Globalization;
using System.Text;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// GBNF for the decimal spellings of the integers in [min, max] (either side open), without leading
/// zeros and never "-0". Built digit by digit: for same-length bounds a string lies between them
/// exactly when it follows the common prefix and then goes above the low bound or below the high one.
/// </summary>
internal static class IntegerRange
{
    /// <summary>Digits allowed in an unbounded integer; keeps every number finite and parseable.</summary>
    public const int MaxDigits = 16;

    public static string Expression(long? min, long? max)
    {
        if (min is { } lo && max is { } hi && lo > hi)
            throw new ArgumentOutOfRangeException(nameof(min), "empty range");
        var alternatives = new List<string>();
        // Negative part: -(magnitudes in [max(1,-max), -min]).
        if (min is null || min < 0)
        {
            var magLow = max is { } mx && mx < 0 ? Magnitude(mx) : 1UL;
            ulong? magHigh = min is { } mn ? Magnitude(mn) : null;
            alternatives.Add("\"-\" " + Group(NonNegative(magLow, magHigh)));
        }
        // Non-negative part: [max(0,min), max].
        if (max is null || max >= 0)
        {
            var low = min is { } mn && mn > 0 ? (ulong)mn : 0UL;
            ulong? high = max is { } mx ? (ulong)mx : null;
            alternatives.Add(NonNegative(low, high));
        }
        return alternatives.Count == 1 ? alternatives[0] : "(" + string.Join(" | ", alternatives) + ")";
    }

    private static ulong Magnitude(long value) => value == long.MinValue ? (ulong)long.MaxValue + 1 : (ulong)(-value);

    private static string Group(string expression) => expression.Contains(' ') ? "(" + expression + ")" : expression;

    /// <summary>Non-negative integers in [low, high]; high null means up to <see cref="MaxDigits"/> digits.</summary>
    private static string NonNegative(ulong low, ulong? high)
    {
        var lowText = low.ToString(CultureInfo.InvariantCulture);
        int maxLength = high is { } h ? h.ToString(CultureInfo.InvariantCulture).Length : Math.Max(MaxDigits, lowText.Length);
        var parts = new List<string>();
        // Shortest length: from low up; longest: up to high; every length in between is unrestricted
        // and they share one alternative "[1-9] [0-9]{a,b}".
        string firstTo = lowText.Length == maxLength && high is { } single ? single.ToString(CultureInfo.InvariantCulture) : new string('9', lowText.Length);
        parts.Add(Between(lowText, firstTo));
        int middleFrom = lowText.Length + 1;
        int middleTo = high is null ? maxLength : maxLength - 1;
        if (middleFrom <= middleTo)
            parts.Add("[1-9] " + (middleFrom == middleTo ? AnyDigits(middleFrom - 1) : $"[0-9]{{{middleFrom - 1},{middleTo - 1}}}"));
        if (high is { } top && maxLength > lowText.Length)
            parts.Add(Between("1" + new string('0', maxLength - 1), top.ToString(CultureInfo.InvariantCulture)));
        return string.Join(" | ", parts);
    }

    /// <summary>Strings of equal length between <paramref name="from"/> and <paramref name="to"/>, inclusive.</summary>
    private static string Between(string from, string to)
    {
        if (from.Length == 0)
            return "";
        if (from[0] == to[0])
            return Join(Digit(from[0], from[0]), Between(from[1..], to[1..]));
        if (from[1..].All(c => c == '0') && to[1..].All(c => c == '9'))
            return Join(Digit(from[0], to[0]), AnyDigits(from.Length - 1));
        var options = new List<string>
        {
            Join(Digit(from[0], from[0]), AtLeast(from[1..])),
        };
        if (to[0] - from[0] > 1)
            options.Add(Join(Digit((char)(from[0] + 1), (char)(to[0] - 1)), AnyDigits(from.Length - 1)));
        options.Add(Join(Digit(to[0], to[0]), AtMost(to[1..])));
        return "(" + string.Join(" | ", options) + ")";
    }

    private static string AtLeast(string bound)
    {
        if (bound.Length == 0)
            return "";
        if (bound.All(c => c == '0'))
            return AnyDigits(bound.Length);
        var options = new List<string> { Join(Digit(bound[0], bound[0]), AtLeast(bound[1..])) };
        if (bound[0] < '9')
            options.Add(Join(Digit((char)(bound[0] + 1), '9'), AnyDigits(bound.Length - 1)));
        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }

    private static string AtMost(string bound)
    {
        if (bound.Length == 0)
            return "";
        if (bound.All(c => c == '9'))
            return AnyDigits(bound.Length);
        var options = new List<string>();
        if (bound[0] > '0')
            options.Add(Join(Digit('0', (char)(bound[0] - 1)), AnyDigits(bound.Length - 1)));
        options.Add(Join(Digit(bound[0], bound[0]), AtMost(bound[1..])));
        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }

    private static string Digit(char from, char to) => from == to ? $"\"{from}\"" : $"[{from}-{to}]";

    private static string AnyDigits(int count) => count switch
    {
        0 => "",
        1 => "[0-9]",
        _ => $"[0-9]{{{count}}}",
    };

    private static string Join(string a, string b) => b.Length == 0 ? a : a + " " + b;
}
