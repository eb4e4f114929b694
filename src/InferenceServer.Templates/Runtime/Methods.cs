using System.Globalization;
using System.Text;

namespace InferenceServer.Templates.Runtime;

/// <summary>
/// The Python methods templates call on str, list and dict values. As in Jinja2's SandboxedEnvironment and
/// llama.cpp (not transformers' ImmutableSandboxedEnvironment), lists and dicts may be changed: Kimi-K2's template
/// builds its tool results with list.append and dict.update. What a template changes is its own copy of the request.
/// </summary>
internal static class Methods
{
    private static readonly HashSet<string> StringMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower", "title",
        "capitalize", "find", "rfind", "index", "rindex", "count", "format", "join", "splitlines", "isdigit", "isalpha",
        "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal", "zfill", "center", "ljust", "rjust",
        "partition", "rpartition", "swapcase", "casefold", "removeprefix", "removesuffix",
    ];
    private static readonly HashSet<string> DictMethods = ["get", "items", "keys", "values", "copy", "clear", "pop", "popitem", "setdefault", "update"];
    private static readonly HashSet<string> ListMethods = ["index", "count", "copy", "pop", "clear", "append", "reverse", "insert", "sort", "extend", "remove"];

    public static BoundMethod? Find(object? obj, string name) => obj switch
    {
        string or Markup when StringMethods.Contains(name) => new BoundMethod(obj, name),
        PyDict when DictMethods.Contains(name) => new BoundMethod(obj, name),
        PyList when ListMethods.Contains(name) => new BoundMethod(obj, name),
        PyTuple when name is "index" or "count" => new BoundMethod(obj, name),
        _ => null,
    };

    public static object? Call(BoundMethod method, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        var a = new Args(method.Name, args, kwargs);
        return method.Target switch
        {
            Markup m => WrapMarkup(method.Name, CallString(m.Value, method.Name, EscapesArguments(method.Name) ? a.EscapeStrings() : a)),
            string s => CallString(s, method.Name, a),
            PyDict d => CallDict(d, method.Name, a),
            PyList l => CallList(l, method.Name, a),
            PyTuple t => CallSequence(t, method.Name, a),
            _ => throw new InvalidOperationException(method.Name),
        };
    }

    /// <summary>markupsafe escapes the arguments of the str methods it wraps to return Markup (except split and join).</summary>
    private static bool EscapesArguments(string name) => name is "strip" or "lstrip" or "rstrip" or "replace" or "center" or "ljust" or "rjust" or "zfill" or "format";

    private static object? WrapMarkup(string name, object? result) => name switch
    {
        "strip" or "lstrip" or "rstrip" or "replace" or "upper" or "lower" or "title" or "capitalize" or "format" or "join"
            or "zfill" or "center" or "ljust" or "rjust" or "swapcase" or "casefold" or "removeprefix" or "removesuffix" => new Markup((string)result!),
        "split" or "rsplit" or "splitlines" => new PyList(((PyList)result!).Select(x => (object?)new Markup((string)x!))),
        _ => result,
    };

    private static object? CallDict(PyDict d, string name, Args a)
    {
        switch (name)
        {
            case "get":
                a.Count(1, 2);
                return d.TryGetValue(a[0], out var v) ? v : a.Opt(1, null);
            case "items": a.Count(0, 0); return new PyList(d.Pairs.Select(p => (object?)new PyTuple([p.Key, p.Value])));
            case "keys": a.Count(0, 0); return new PyList(d.Keys);
            case "values": a.Count(0, 0); return new PyList(d.Values);
            case "copy":
                {
                    var c = new PyDict();
                    foreach (var (k, val) in d.Pairs) c[k!] = val;
                    return c;
                }
            case "clear":
                a.Count(0, 0);
                foreach (var key in d.Keys.ToList()) d.Remove(key);
                return null;
            case "pop":
                a.Count(1, 2);
                if (d.TryGetValue(a[0], out var popped))
                {
                    d.Remove(a[0]);
                    return popped;
                }
                return a.Has(1) ? a[1] : throw new TemplateRenderException($"KeyError: {PyOps.Repr(a[0])}");
            case "popitem":
                {
                    a.Count(0, 0);
                    if (d.Count == 0) throw new TemplateRenderException("KeyError: 'popitem(): dictionary is empty'");
                    var (key, value) = d.Pairs.Last();
                    d.Remove(key);
                    return new PyTuple([key, value]);
                }
            case "setdefault":
                a.Count(1, 2);
                if (d.TryGetValue(a[0], out var existing)) return existing;
                d[a[0]!] = a.Opt(1, null);
                return d[a[0]!];
            case "update":
                if (a.Has(1)) throw PyOps.TypeError("update expected at most 1 argument");
                if (a.Has(0))
                {
                    if (a[0] is PyDict other)
                        foreach (var (key, value) in other.Pairs.ToList()) d[key!] = value;
                    else
                        foreach (var pair in PyOps.Iterate(a[0]).ToList())
                        {
                            var items = PyOps.Iterate(pair).ToList();
                            if (items.Count != 2) throw new TemplateRenderException("ValueError: dictionary update sequence element has the wrong length; 2 is required");
                            d[items[0]!] = items[1];
                        }
                }
                foreach (var (key, value) in a.Keywords) d[key] = value;
                return null;
            default: throw new InvalidOperationException(name);
        }
    }

    private static object? CallList(PyList l, string name, Args a)
    {
        switch (name)
        {
            case "pop":
                {
                    a.Count(0, 1);
                    if (l.Count == 0) throw new TemplateRenderException("IndexError: pop from empty list");
                    long i = a.Has(0) ? PyOps.ToLong(a[0]) : -1;
                    if (i < 0) i += l.Count;
                    if (i < 0 || i >= l.Count) throw new TemplateRenderException("IndexError: pop index out of range");
                    var v = l[(int)i];
                    l.RemoveAt((int)i);
                    return v;
                }
            case "clear": l.Clear(); return null;
            case "copy": return new PyList(l);
            case "append": a.Count(1, 1); l.Add(a[0]); return null;
            case "extend": a.Count(1, 1); l.AddRange(PyOps.Iterate(a[0]).ToList()); return null;
            case "insert":
                {
                    a.Count(2, 2);
                    long i = PyOps.ToLong(a[0]);
                    if (i < 0) i += l.Count;
                    l.Insert((int)Math.Clamp(i, 0, l.Count), a[1]);
                    return null;
                }
            case "remove":
                {
                    a.Count(1, 1);
                    var i = l.FindIndex(x => PyOps.Equal(x, a[0]));
                    if (i < 0) throw new TemplateRenderException("ValueError: list.remove(x): x not in list");
                    l.RemoveAt(i);
                    return null;
                }
            case "reverse": a.Count(0, 0); l.Reverse(); return null;
            case "sort":
                {
                    // Stable, as Python's; sort(key=...) takes a function, which templates cannot define.
                    var comparer = Comparer<object?>.Create(PyOps.Compare);
                    var reverse = a.Has(0, "reverse") && PyOps.Truthy(a.Get(0, "reverse"));
                    var sorted = (reverse ? l.OrderDescending(comparer) : l.Order(comparer)).ToList();
                    l.Clear();
                    l.AddRange(sorted);
                    return null;
                }
            default: return CallSequence(l, name, a);
        }
    }

    private static object? CallSequence(IReadOnlyList<object?> items, string name, Args a)
    {
        switch (name)
        {
            case "count": a.Count(1, 1); return (long)items.Count(x => PyOps.Equal(x, a[0]));
            case "index":
                for (int i = 0; i < items.Count; i++) if (PyOps.Equal(items[i], a[0])) return (long)i;
                throw new TemplateRenderException($"ValueError: {PyOps.Repr(a[0])} is not in list");
            default: throw new InvalidOperationException(name);
        }
    }

    private static object? CallString(string s, string name, Args a)
    {
        switch (name)
        {
            case "strip": a.Count(0, 1); return Strip(s, a.OptString(0), true, true);
            case "lstrip": a.Count(0, 1); return Strip(s, a.OptString(0), true, false);
            case "rstrip": a.Count(0, 1); return Strip(s, a.OptString(0), false, true);
            case "split": return new PyList(Split(s, a.OptString(0, "sep"), a.Has(1, "maxsplit") ? PyOps.ToLong(a.Get(1, "maxsplit")) : -1).Select(x => (object?)x));
            case "rsplit": return new PyList(RSplit(s, a.OptString(0, "sep"), a.Has(1, "maxsplit") ? PyOps.ToLong(a.Get(1, "maxsplit")) : -1).Select(x => (object?)x));
            case "startswith":
            case "endswith":
                {
                    a.Count(1, 3);
                    var sub = Substring(s, a.Opt(1, null), a.Opt(2, null));
                    var candidates = a[0] is PyTuple t ? t.Items : [a[0]];
                    foreach (var c in candidates)
                    {
                        var str = PyOps.AsString(c) ?? throw PyOps.TypeError($"{name} first arg must be str or a tuple of str, not {PyOps.TypeName(c)}");
                        if (name == "startswith" ? sub.StartsWith(str, StringComparison.Ordinal) : sub.EndsWith(str, StringComparison.Ordinal)) return true;
                    }
                    return false;
                }
            case "replace":
                {
                    a.Count(2, 3);
                    string old = a.String(0), repl = a.String(1);
                    long count = a.Has(2, "count") ? PyOps.ToLong(a.Get(2, "count")) : -1;
                    return Replace(s, old, repl, count);
                }
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "casefold": return s.ToLowerInvariant();
            case "swapcase": return string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));
            case "title": return Title(s);
            case "capitalize": return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "find": case "index": case "rfind": case "rindex":
                {
                    a.Count(1, 3);
                    var sub = a.String(0);
                    int start = a.Has(1) ? (int)Math.Clamp(Norm(PyOps.ToLong(a[1]), s.Length), 0, s.Length) : 0;
                    int end = a.Has(2) && a[2] is not null ? (int)Math.Clamp(Norm(PyOps.ToLong(a[2]), s.Length), 0, s.Length) : s.Length;
                    int r = -1;
                    if (end >= start)
                    {
                        var window = s[start..end];
                        int i = name.StartsWith('r') ? window.LastIndexOf(sub, StringComparison.Ordinal) : window.IndexOf(sub, StringComparison.Ordinal);
                        if (i >= 0) r = i + start;
                    }
                    if (r < 0 && name.EndsWith("index")) throw new TemplateRenderException("ValueError: substring not found");
                    return (long)r;
                }
            case "count":
                {
                    var sub = a.String(0);
                    if (sub.Length == 0) return (long)PyOps.CodePointCount(s) + 1;
                    long n = 0;
                    for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
                    return n;
                }
            case "format": return Format(s, a);
            case "join":
                {
                    a.Count(1, 1);
                    return string.Join(s, PyOps.Iterate(a[0]).Select(x => PyOps.AsString(x) ?? throw PyOps.TypeError($"sequence item: expected str instance, {PyOps.TypeName(x)} found")));
                }
            case "splitlines":
                {
                    bool keep = a.Has(0, "keepends") && PyOps.Truthy(a.Get(0, "keepends"));
                    var result = new PyList();
                    int startLine = 0;
                    for (int i = 0; i < s.Length; i++)
                    {
                        char c = s[i];
                        if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
                        int eol = i;
                        if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                        result.Add(s[startLine..(keep ? i + 1 : eol)]);
                        startLine = i + 1;
                    }
                    if (startLine < s.Length) result.Add(s[startLine..]);
                    return result;
                }
            case "isdigit": case "isnumeric": case "isdecimal": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace": return s.Length > 0 && s.All(char.IsWhiteSpace);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "zfill":
                {
                    int width = (int)PyOps.ToLong(a[0]);
                    if (s.Length >= width) return s;
                    int sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
                    return s[..sign] + new string('0', width - s.Length) + s[sign..];
                }
            case "center": case "ljust": case "rjust":
                {
                    int width = (int)PyOps.ToLong(a[0]);
                    string fill = a.Has(1) ? a.String(1) : " ";
                    int pad = width - PyOps.CodePointCount(s);
                    if (pad <= 0) return s;
                    if (name == "ljust") return s + Repeat(fill, pad);
                    if (name == "rjust") return Repeat(fill, pad) + s;
                    int left = pad / 2 + (pad & width & 1);
                    return Repeat(fill, left) + s + Repeat(fill, pad - left);
                }
            case "partition": case "rpartition":
                {
                    var sep = a.String(0);
                    int i = name == "partition" ? s.IndexOf(sep, StringComparison.Ordinal) : s.LastIndexOf(sep, StringComparison.Ordinal);
                    if (i < 0) return name == "partition" ? new PyTuple([s, "", ""]) : new PyTuple(["", "", s]);
                    return new PyTuple([s[..i], sep, s[(i + sep.Length)..]]);
                }
            case "removeprefix": { var p = a.String(0); return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s; }
            case "removesuffix": { var p = a.String(0); return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s; }
            default: throw new InvalidOperationException(name);
        }
    }

    private static long Norm(long i, int len) => i < 0 ? i + len : i;
    private static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n));

    private static string Substring(string s, object? start, object? end)
    {
        int b = start is null ? 0 : (int)Math.Clamp(Norm(PyOps.ToLong(start), s.Length), 0, s.Length);
        int e = end is null ? s.Length : (int)Math.Clamp(Norm(PyOps.ToLong(end), s.Length), 0, s.Length);
        return e > b ? s[b..e] : "";
    }

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        int b = 0, e = s.Length;
        Func<char, bool> strip = chars is null ? char.IsWhiteSpace : c => chars.Contains(c);
        if (left) while (b < e && strip(s[b])) b++;
        if (right) while (e > b && strip(s[e - 1])) e--;
        return s[b..e];
    }

    public static string Replace(string s, string old, string repl, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, repl, -1) : s.Replace(old, repl, StringComparison.Ordinal);
        if (old.Length == 0) return InsertEverywhere(s, repl, count);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, pos, i - pos).Append(repl);
            pos = i + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertEverywhere(string s, string repl, long count)
    {
        var sb = new StringBuilder();
        long n = 0;
        foreach (var r in PyOps.CodePoints(s))
        {
            if (count < 0 || n++ < count) sb.Append(repl);
            sb.Append(r);
        }
        if (count < 0 || n < count) sb.Append(repl);
        return sb.ToString();
    }

    public static List<string> Split(string s, string? sep, long maxsplit)
    {
        var parts = new List<string>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxsplit >= 0 && parts.Count >= maxsplit) { parts.Add(s[i..].TrimEnd()); break; }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (sep.Length == 0) throw new TemplateRenderException("ValueError: empty separator");
        int pos = 0;
        while (maxsplit < 0 || parts.Count < maxsplit)
        {
            int i = s.IndexOf(sep, pos, StringComparison.Ordinal);
            if (i < 0) break;
            parts.Add(s[pos..i]);
            pos = i + sep.Length;
        }
        parts.Add(s[pos..]);
        return parts;
    }

    private static List<string> RSplit(string s, string? sep, long maxsplit)
    {
        if (maxsplit < 0) return Split(s, sep, -1);
        var parts = new List<string>();
        if (sep is null)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && char.IsWhiteSpace(s[i - 1])) i--;
                if (i <= 0) break;
                if (parts.Count >= maxsplit) { parts.Add(s[..i].TrimStart()); break; }
                int end = i;
                while (i > 0 && !char.IsWhiteSpace(s[i - 1])) i--;
                parts.Add(s[i..end]);
            }
            parts.Reverse();
            return parts;
        }
        if (sep.Length == 0) throw new TemplateRenderException("ValueError: empty separator");
        int pos = s.Length;
        while (parts.Count < maxsplit)
        {
            int i = pos == 0 ? -1 : s.LastIndexOf(sep, pos - 1, StringComparison.Ordinal);
            if (i < 0 || i + sep.Length > pos) break;
            parts.Add(s[(i + sep.Length)..pos]);
            pos = i;
        }
        parts.Add(s[..pos]);
        parts.Reverse();
        return parts;
    }

    /// <summary>Python's str.title(): a letter after a letter is lowercased, any other letter uppercased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            prevCased = cased;
        }
        return sb.ToString();
    }

    private static string Format(string fmt, Args a)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
                int close = fmt.IndexOf('}', i);
                if (close < 0) throw new TemplateRenderException("ValueError: Single '{' encountered in format string");
                string field = fmt[(i + 1)..close];
                string spec = "";
                int colon = field.IndexOf(':');
                if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
                bool repr = field.EndsWith("!r");
                if (field.EndsWith("!r") || field.EndsWith("!s")) field = field[..^2];
                object? value;
                if (field.Length == 0) value = a.Positional(auto++);
                else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int index)) value = a.Positional(index);
                else value = a.Keyword(field);
                sb.Append(FormatValue(repr ? PyOps.Repr(value) : value, spec));
                i = close;
            }
            else if (c == '}')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '}') i++;
                sb.Append('}');
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static string FormatValue(object? value, string spec)
    {
        if (spec.Length == 0) return PyOps.Str(value);
        if (spec == "d") return PyOps.ToLong(value).ToString(CultureInfo.InvariantCulture);
        if (spec.StartsWith('.') && spec.EndsWith('f') && int.TryParse(spec[1..^1], out int digits))
            return PyOps.ToDouble(value).ToString("F" + digits, CultureInfo.InvariantCulture);
        throw new TemplateRenderException($"format spec '{spec}' is not supported");
    }

    /// <summary>Positional and keyword arguments of one call, with Python-style lookups.</summary>
    private sealed class Args(string method, List<object?> positional, List<(string Name, object? Value)> keywords)
    {
        public object? this[int i] => i < positional.Count ? positional[i] : throw PyOps.TypeError($"{method}() missing required argument");
        public IEnumerable<(string Name, object? Value)> Keywords => keywords;
        public bool Has(int i, string? keyword = null) => i < positional.Count || (keyword is not null && keywords.Any(k => k.Name == keyword));
        public object? Get(int i, string keyword) => i < positional.Count ? positional[i] : keywords.First(k => k.Name == keyword).Value;
        public object? Opt(int i, object? fallback) => i < positional.Count ? positional[i] : fallback;
        public string String(int i) => PyOps.AsString(this[i]) ?? throw PyOps.TypeError($"{method}() argument must be str, not {PyOps.TypeName(this[i])}");

        public string? OptString(int i, string? keyword = null)
        {
            if (!Has(i, keyword)) return null;
            var v = keyword is null ? this[i] : Get(i, keyword);
            return v is null ? null : PyOps.AsString(v) ?? throw PyOps.TypeError($"{method}() argument must be str or None, not {PyOps.TypeName(v)}");
        }

        public void Count(int min, int max)
        {
            int n = positional.Count + keywords.Count;
            if (n < min || n > max) throw PyOps.TypeError($"{method}() takes {(min == max ? $"exactly {min}" : $"from {min} to {max}")} arguments ({n} given)");
        }

        public object? Positional(int i) => i < positional.Count ? positional[i] : throw new TemplateRenderException($"IndexError: Replacement index {i} out of range for positional args tuple");
        public object? Keyword(string name) => keywords.FirstOrDefault(k => k.Name == name) is { Name: not null } k ? k.Value : throw new TemplateRenderException($"KeyError: '{name}'");

        public Args EscapeStrings() => new(method,
            positional.Select(p => p is string s ? PyOps.HtmlEscape(s) : p is Markup m ? m.Value : p).ToList(),
            keywords.Select(k => (k.Name, k.Value is string s ? (object?)PyOps.HtmlEscape(s) : k.Value is Markup m ? m.Value : k.Value)).ToList());
    }
}
