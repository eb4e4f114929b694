using System.Globalization;
using System.Text;

namespace InferenceServer.Templates.Runtime;

/// <summary>Python's semantics for the values Jinja templates handle: truthiness, str/repr, ==, &lt;, arithmetic, iteration.</summary>
internal static class PyOps
{
    public static TemplateRenderException TypeError(string message) => new($"TypeError: {message}");

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        Markup => "Markup",
        PyList => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        Namespace => "Namespace",
        Undefined => "Undefined",
        LoopContext => "LoopContext",
        Macro => "Macro",
        PyGenerator => "generator",
        _ => "function",
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        Markup m => m.Value.Length > 0,
        PyList l => l.Count > 0,
        PyTuple t => t.Count > 0,
        PyDict d => d.Count > 0,
        Undefined => false,
        _ => true,
    };

    public static bool IsString(object? v) => v is string or Markup;
    public static bool IsNumber(object? v) => v is long or double or bool;
    public static string? AsString(object? v) => v switch { string s => s, Markup m => m.Value, _ => null };

    /// <summary>Python's str(v).</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        Markup m => m.Value,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's repr(v).</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null: sb.Append("None"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case Markup m: sb.Append("Markup("); AppendStringRepr(sb, m.Value); sb.Append(')'); break;
            case PyList list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, list[i]); }
                sb.Append(']');
                break;
            case PyTuple t:
                sb.Append('(');
                for (int i = 0; i < t.Count; i++) { if (i > 0) sb.Append(", "); AppendRepr(sb, t[i]); }
                if (t.Count == 1) sb.Append(',');
                sb.Append(')');
                break;
            case PyDict d:
                {
                    sb.Append('{');
                    bool first = true;
                    foreach (var (k, val) in d.Pairs)
                    {
                        if (!first) sb.Append(", ");
                        first = false;
                        AppendRepr(sb, k);
                        sb.Append(": ");
                        AppendRepr(sb, val);
                    }
                    sb.Append('}');
                    break;
                }
            case Namespace ns: sb.Append("<Namespace ").Append(Repr(ns.Attributes)).Append('>'); break;
            case Undefined: sb.Append("Undefined"); break;
            case Macro m: sb.Append("<Macro '").Append(m.Name).Append("'>"); break;
            case PyGenerator: sb.Append("<generator object>"); break;
            default: sb.Append("<").Append(TypeName(v)).Append('>'); break;
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c >= 0x80 && !IsPrintable(rune))
            {
                if (c <= 0xff) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
                else if (c <= 0xffff) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
            }
            else sb.Append(rune.ToString());
        }
        sb.Append(quote);
    }

    private static bool IsPrintable(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        return cat switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => false,
            UnicodeCategory.SpaceSeparator => r.Value == ' ',
            _ => true,
        };
    }

    /// <summary>Python's float repr: shortest round-trip digits, scientific below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits come from "R"; parse them into digits + exponent.
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest.StartsWith('-');
        if (negative) shortest = shortest[1..];
        int exp;
        string mantissa;
        int ePos = shortest.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exp = int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture);
            mantissa = shortest[..ePos];
        }
        else { exp = 0; mantissa = shortest; }
        int dot = mantissa.IndexOf('.');
        string intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        string fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        string digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - digits.Length;
        // value = 0.digits * 10^(decimalExponent)
        int pointPos = intPart.Length - leadingZeros + exp; // position of decimal point relative to digits start
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sciExp = pointPos - 1;
        string body;
        if (sciExp < -4 || sciExp >= 16)
        {
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (sciExp < 0 ? "-" : "+") + Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (pointPos <= 0) body = "0." + new string('0', -pointPos) + digits;
        else if (pointPos >= digits.Length) body = digits + new string('0', pointPos - digits.Length) + ".0";
        else body = digits[..pointPos] + "." + digits[pointPos..];
        return negative ? "-" + body : body;
    }

    public static bool Equal(object? a, object? b)
    {
        if (a is bool ab) a = ab ? 1L : 0L;
        if (b is bool bb) b = bb ? 1L : 0L;
        switch (a)
        {
            case null: return b is null;
            case long la: return b switch { long lb => la == lb, double db => la == db, _ => false };
            case double da: return b switch { long lb => da == lb, double db => da == db, _ => false };
            case string or Markup: return AsString(b) is { } sb && string.Equals(AsString(a), sb, StringComparison.Ordinal);
            case PyList la2: return b is PyList lb2 && SequenceEqual(la2, lb2);
            case PyTuple ta: return b is PyTuple tb && SequenceEqual(ta, tb);
            case PyDict da2:
                if (b is not PyDict db2 || da2.Count != db2.Count) return false;
                foreach (var (k, v) in da2.Pairs)
                    if (!db2.TryGetValue(k, out var other) || !Equal(v, other)) return false;
                return true;
            case Undefined: return b is Undefined;
            default: return ReferenceEquals(a, b) || a.Equals(b);
        }
    }

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!Equal(a[i], b[i])) return false;
        return true;
    }

    public static int Hash(object v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        string s => StringComparer.Ordinal.GetHashCode(s),
        Markup m => StringComparer.Ordinal.GetHashCode(m.Value),
        PyTuple t => t.Aggregate(17, (h, x) => h * 31 + (x is null ? 0 : Hash(x))),
        _ => v.GetHashCode(),
    };

    /// <summary>Python's a &lt; b style ordering; raises TypeError for incomparable types.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (AsString(a) is { } sa && AsString(b) is { } sb) return CompareCodePoints(sa, sb);
        if ((a is PyList && b is PyList) || (a is PyTuple && b is PyTuple))
        {
            var la = (IReadOnlyList<object?>)a!;
            var lb = (IReadOnlyList<object?>)b!;
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!Equal(la[i], lb[i])) return Compare(la[i], lb[i]);
            return la.Count.CompareTo(lb.Count);
        }
        throw TypeError($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext(), hb = eb.MoveNext();
            if (!ha || !hb) return ha.CompareTo(hb);
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0) return c;
        }
    }

    public static long ToLong(object? v) => v switch { bool b => b ? 1 : 0, long l => l, double d => (long)d, _ => throw TypeError($"expected a number, got '{TypeName(v)}'") };
    public static double ToDouble(object? v) => v switch { bool b => b ? 1 : 0, long l => l, double d => d, _ => throw TypeError($"expected a number, got '{TypeName(v)}'") };

    public static object? Add(object? a, object? b)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b)) return a is double || b is double ? (object)(ToDouble(a) + ToDouble(b)) : ToLong(a) + ToLong(b);
        if (a is Markup ma && AsString(b) is { } sb) return new Markup(ma.Value + (b is Markup ? sb : HtmlEscape(sb)));
        if (b is Markup mb && a is string sa2) return new Markup(HtmlEscape(sa2) + mb.Value);
        if (a is string s1 && b is string s2) return s1 + s2;
        if (a is PyList l1 && b is PyList l2) { var r = new PyList(l1); r.AddRange(l2); return r; }
        if (a is PyTuple t1 && b is PyTuple t2) return new PyTuple([.. t1.Items, .. t2.Items]);
        if (IsString(a) || IsString(b)) throw TypeError($"can only concatenate str (not \"{TypeName(IsString(a) ? b : a)}\") to str");
        throw TypeError($"unsupported operand type(s) for +: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static object? Arithmetic(string op, object? a, object? b)
    {
        if (op == "+") return Add(a, b);
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (op == "*")
        {
            if (AsString(a) is { } s && b is long or bool) return Repeat(s, ToLong(b), a is Markup);
            if (AsString(b) is { } s2 && a is long or bool) return Repeat(s2, ToLong(a), b is Markup);
            if (a is PyList l && b is long or bool) { var r = new PyList(); for (long i = 0; i < ToLong(b); i++) r.AddRange(l); return r; }
        }
        if (op == "%" && AsString(a) is { } fmt) return PercentFormat(fmt, b);
        if (!IsNumber(a) || !IsNumber(b)) throw TypeError($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
        bool isFloat = a is double || b is double;
        switch (op)
        {
            case "-": return isFloat ? (object)(ToDouble(a) - ToDouble(b)) : ToLong(a) - ToLong(b);
            case "*": return isFloat ? (object)(ToDouble(a) * ToDouble(b)) : ToLong(a) * ToLong(b);
            case "/":
                if (ToDouble(b) == 0) throw new TemplateRenderException("ZeroDivisionError: division by zero");
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new TemplateRenderException("ZeroDivisionError: integer division or modulo by zero");
                if (isFloat) return Math.Floor(ToDouble(a) / ToDouble(b));
                { long x = ToLong(a), y = ToLong(b); long q = x / y; if ((x % y != 0) && ((x < 0) != (y < 0))) q--; return q; }
            case "%":
                if (ToDouble(b) == 0) throw new TemplateRenderException("ZeroDivisionError: integer division or modulo by zero");
                if (isFloat) { double x = ToDouble(a), y = ToDouble(b); double m = x % y; if (m != 0 && (m < 0) != (y < 0)) m += y; return m; }
                { long x = ToLong(a), y = ToLong(b); long m = x % y; if (m != 0 && (m < 0) != (y < 0)) m += y; return m; }
            case "**":
                if (!isFloat && ToLong(b) >= 0) { long r = 1, x = ToLong(a); for (long i = 0; i < ToLong(b); i++) r *= x; return r; }
                return Math.Pow(ToDouble(a), ToDouble(b));
            default: throw new InvalidOperationException(op);
        }
    }

    private static object Repeat(string s, long n, bool markup)
    {
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return markup ? new Markup(sb.ToString()) : sb.ToString();
    }

    private static string PercentFormat(string fmt, object? args)
    {
        var values = args is PyTuple t ? t.Items : [args];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length) { sb.Append(fmt[i]); continue; }
            char c = fmt[++i];
            if (c == '%') { sb.Append('%'); continue; }
            if (next >= values.Length) throw TypeError("not enough arguments for format string");
            var v = values[next++];
            sb.Append(c switch
            {
                's' => Str(v),
                'r' => Repr(v),
                'd' or 'i' => ToLong(v).ToString(CultureInfo.InvariantCulture),
                'f' => ToDouble(v).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw new TemplateRenderException($"ValueError: unsupported format character '{c}'"),
            });
        }
        return sb.ToString();
    }

    public static object? Negate(object? v) => v switch
    {
        long l => (object)-l,
        double d => (object)-d,
        bool b => (object)(b ? -1L : 0L),
        Undefined u => throw u.Fail(),
        _ => throw TypeError($"bad operand type for unary -: '{TypeName(v)}'"),
    };

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string or Markup:
                if (AsString(item) is not { } needle) throw TypeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
                return AsString(container)!.Contains(needle, StringComparison.Ordinal);
            case PyDict d: return d.ContainsKey(item);
            case PyList or PyTuple: return ((IEnumerable<object?>)container).Any(x => Equal(x, item));
            case PyGenerator g: return g.Drain().Any(x => Equal(x, item));
            case Undefined: return false;
            case Namespace: throw TypeError("argument of type 'Namespace' is not iterable");
            default: throw TypeError($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        PyList l => l.ToList(),
        PyTuple t => t.Items,
        PyDict d => d.Keys.ToList(),
        string or Markup => CodePoints(AsString(v)!),
        Undefined => [],
        PyGenerator g => g.Drain().ToList(),
        _ => throw TypeError($"'{TypeName(v)}' object is not iterable"),
    };

    public static IEnumerable<object?> CodePoints(string s)
    {
        foreach (var r in s.EnumerateRunes()) yield return r.ToString();
    }

    public static long Length(object? v) => v switch
    {
        string s => CodePointCount(s),
        Markup m => CodePointCount(m.Value),
        PyList l => l.Count,
        PyTuple t => t.Count,
        PyDict d => d.Count,
        Undefined => 0,
        _ => throw TypeError($"object of type '{TypeName(v)}' has no len()"),
    };

    public static int CodePointCount(string s)
    {
        int n = s.Length;
        foreach (char c in s) if (char.IsLowSurrogate(c)) n--;
        return n;
    }

    public static string HtmlEscape(string s) => s.Replace("&", "&amp;").Replace(">", "&gt;").Replace("<", "&lt;").Replace("'", "&#39;").Replace("\"", "&#34;");
}
