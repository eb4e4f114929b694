using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InferenceServer.Templates.Runtime;

/// <summary>Jinja2's built-in filters (non-autoescaping environment), plus HF's tojson override.</summary>
internal static partial class Filters
{
    public static object? Apply(Interpreter interp, string name, object? value, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        var a = new FilterArgs(name, args, kwargs);
        switch (name)
        {
            case "tojson":
                {
                    a.Bind("ensure_ascii", "indent", "separators", "sort_keys");
                    return PyJson.Dumps(value, PyOps.Truthy(a.Get("ensure_ascii", false)), a.Get("indent", null), a.Get("separators", null), PyOps.Truthy(a.Get("sort_keys", false)));
                }
            case "trim":
                a.Bind("chars");
                return WrapLike(value, Methods.Strip(SoftStr(value), PyOps.AsString(a.Get("chars", null)), true, true));
            case "length": case "count": return PyOps.Length(value);
            case "string": return value is Markup ? value : PyOps.Str(value);
            case "safe": return value is Markup ? value : new Markup(PyOps.Str(value));
            case "escape": case "e": return value is Markup ? value : new Markup(PyOps.HtmlEscape(PyOps.Str(value)));
            case "upper": return WrapLike(value, SoftStr(value).ToUpperInvariant());
            case "lower": return WrapLike(value, SoftStr(value).ToLowerInvariant());
            case "capitalize": { var s = SoftStr(value); return WrapLike(value, s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant()); }
            case "title":
                return WrapLike(value, string.Concat(WordBeginning().Split(SoftStr(value)).Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant())));
            case "default": case "d":
                a.Bind("default_value", "boolean");
                return value is Undefined || (PyOps.Truthy(a.Get("boolean", false)) && !PyOps.Truthy(value)) ? a.Get("default_value", "") : value;
            case "first":
                {
                    var items = Iter(value);
                    return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
                }
            case "last":
                {
                    var items = Iter(value);
                    return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
                }
            case "join":
                {
                    a.Bind("d", "attribute");
                    IEnumerable<object?> items = Iter(value);
                    if (a.Get("attribute", null) is { } attr) items = items.Select(Getter(attr, null));
                    return string.Join(PyOps.Str(a.Get("d", "")), items.Select(PyOps.Str));
                }
            case "replace":
                {
                    a.Bind("old", "new", "count");
                    var count = a.Get("count", null);
                    return Methods.Replace(PyOps.Str(value), PyOps.Str(a.Get("old")), PyOps.Str(a.Get("new")), count is null ? -1 : PyOps.ToLong(count));
                }
            case "items":
                if (value is Undefined) return new PyGenerator([]);
                if (value is not PyDict dict) throw PyOps.TypeError("Can only get item pairs from a mapping.");
                return new PyGenerator(dict.Pairs.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList());
            case "list": return new PyList(Iter(value));
            case "unique":
                {
                    a.Bind("case_sensitive", "attribute");
                    bool cs = PyOps.Truthy(a.Get("case_sensitive", false));
                    var key = KeyFunc(a.Get("attribute", null), cs);
                    var seen = new List<object?>();
                    var result = new PyList();
                    foreach (var item in Iter(value))
                    {
                        var k = key(item);
                        if (seen.Any(s => PyOps.Equal(s, k))) continue;
                        seen.Add(k);
                        result.Add(item);
                    }
                    return new PyGenerator(result);
                }
            case "map": return Map(interp, value, args, kwargs);
            case "select": case "reject": return Select(interp, value, args, name == "select", null);
            case "selectattr": case "rejectattr":
                if (args.Count == 0) throw PyOps.TypeError("selectattr needs an attribute");
                return Select(interp, value, args.Skip(1).ToList(), name == "selectattr", PyOps.Str(args[0]));
            case "int":
                a.Bind("default", "base");
                return ToInt(value, a.Get("default", 0L), PyOps.ToLong(a.Get("base", 10L)));
            case "float":
                a.Bind("default");
                return ToFloat(value, a.Get("default", 0.0));
            case "abs": return value switch { long l => (object)Math.Abs(l), double d => (object)Math.Abs(d), bool b => (object)(b ? 1L : 0L), _ => throw PyOps.TypeError($"bad operand type for abs(): '{PyOps.TypeName(value)}'") };
            case "round":
                {
                    a.Bind("precision", "method");
                    int precision = (int)PyOps.ToLong(a.Get("precision", 0L));
                    var method = PyOps.Str(a.Get("method", "common"));
                    double d = PyOps.ToDouble(value), scale = Math.Pow(10, precision);
                    return method switch
                    {
                        "common" => value is long or bool ? (object)PyOps.ToLong(value) : Math.Round(d, precision, MidpointRounding.ToEven),
                        "ceil" => (object)(Math.Ceiling(d * scale) / scale),
                        "floor" => Math.Floor(d * scale) / scale,
                        _ => throw new TemplateRenderException("FilterArgumentError: method must be common, ceil or floor"),
                    };
                }
            case "indent": return Indent(value, a);
            case "center":
                a.Bind("width");
                return Methods.Call(new BoundMethod(PyOps.Str(value), "center"), [a.Get("width", 80L)], []);
            case "wordcount": return (long)Word().Matches(SoftStr(value)).Count;
            case "dictsort":
                {
                    a.Bind("case_sensitive", "by", "reverse");
                    if (value is not PyDict mapping) throw PyOps.TypeError("dictsort expects a mapping");
                    bool cs = PyOps.Truthy(a.Get("case_sensitive", false));
                    int pos = PyOps.Str(a.Get("by", "key")) == "value" ? 1 : 0;
                    var pairs = mapping.Pairs.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList();
                    var sorted = SortBy(pairs, x => CaseKey(((PyTuple)x!)[pos], cs), PyOps.Truthy(a.Get("reverse", false)));
                    return new PyList(sorted);
                }
            case "sort":
                {
                    a.Bind("reverse", "case_sensitive", "attribute");
                    var key = KeyFunc(a.Get("attribute", null), PyOps.Truthy(a.Get("case_sensitive", false)));
                    return new PyList(SortBy(Iter(value), key, PyOps.Truthy(a.Get("reverse", false))));
                }
            case "min": case "max":
                {
                    a.Bind("case_sensitive", "attribute");
                    var items = Iter(value);
                    if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                    var key = KeyFunc(a.Get("attribute", null), PyOps.Truthy(a.Get("case_sensitive", false)));
                    var best = items[0];
                    foreach (var item in items.Skip(1))
                    {
                        int c = PyOps.Compare(key(item), key(best));
                        if (name == "min" ? c < 0 : c > 0) best = item;
                    }
                    return best;
                }
            case "sum":
                {
                    a.Bind("attribute", "start");
                    object? total = a.Get("start", 0L);
                    IEnumerable<object?> items = Iter(value);
                    if (a.Get("attribute", null) is { } attr) items = items.Select(Getter(attr, null));
                    foreach (var item in items) total = PyOps.Add(total, item);
                    return total;
                }
            case "reverse":
                if (PyOps.AsString(value) is { } str) return WrapLike(value, string.Concat(PyOps.CodePoints(str).Reverse()));
                return new PyGenerator(Iter(value).AsEnumerable().Reverse().ToList());
            case "batch":
                {
                    a.Bind("linecount", "fill_with");
                    long size = PyOps.ToLong(a.Get("linecount"));
                    var fill = a.Get("fill_with", null);
                    bool hasFill = a.Has("fill_with") && fill is not null;
                    var result = new PyList();
                    PyList current = new();
                    foreach (var item in Iter(value))
                    {
                        if (current.Count == size) { result.Add(current); current = new PyList(); }
                        current.Add(item);
                    }
                    if (current.Count > 0)
                    {
                        if (hasFill) while (current.Count < size) current.Add(fill);
                        result.Add(current);
                    }
                    return new PyGenerator(result);
                }
            case "attr": return Access.GetAttr(value, PyOps.Str(args[0]));
            default: throw new TemplateRenderException($"TemplateAssertionError: No filter named '{name}'.");
        }
    }

    [GeneratedRegex(@"([-\s\(\{\[\<]+)")]
    private static partial Regex WordBeginning();

    [GeneratedRegex(@"\w+")]
    private static partial Regex Word();

    private static string SoftStr(object? v) => PyOps.Str(v);
    private static object WrapLike(object? original, string s) => original is Markup ? new Markup(s) : s;
    private static List<object?> Iter(object? v) => PyOps.Iterate(v).ToList();

    private static object? Indent(object? value, FilterArgs a)
    {
        a.Bind("width", "first", "blank");
        var width = a.Get("width", 4L);
        string indention = PyOps.AsString(width) ?? new string(' ', (int)PyOps.ToLong(width));
        if (value is Undefined u) throw u.Fail();
        string s = PyOps.Str(value) + "\n";
        var lines = (PyList)Methods.Call(new BoundMethod(s, "splitlines"), [], [])!;
        string rv;
        if (PyOps.Truthy(a.Get("blank", false))) rv = string.Join("\n" + indention, lines.Select(PyOps.Str));
        else
        {
            rv = PyOps.Str(lines[0]);
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => PyOps.Str(l) is { Length: > 0 } line ? indention + line : ""));
        }
        if (PyOps.Truthy(a.Get("first", false))) rv = indention + rv;
        return WrapLike(value, rv);
    }

    private static object? ToInt(object? value, object? fallback, long numberBase)
    {
        switch (value)
        {
            case bool b: return b ? 1L : 0L;
            case long l: return l;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string or Markup:
                {
                    var s = PyOps.AsString(value)!.Trim().Replace("_", "");
                    try
                    {
                        if (numberBase == 10 && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var r)) return r;
                        if (numberBase != 10) return Convert.ToInt64(s, (int)numberBase);
                    }
                    catch (Exception e) when (e is FormatException or ArgumentException or OverflowException) { return fallback; }
                    return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
                }
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        bool b => (object)(b ? 1.0 : 0.0),
        long l => (object)(double)l,
        double d => d,
        string or Markup => double.TryParse(PyOps.AsString(value)!.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : fallback,
        _ => fallback,
    };

    private static object? CaseKey(object? v, bool caseSensitive) => !caseSensitive && PyOps.AsString(v) is { } s ? s.ToLowerInvariant() : v;

    private static Func<object?, object?> KeyFunc(object? attribute, bool caseSensitive)
    {
        var get = attribute is null ? (x => x) : Getter(attribute, null);
        return x => CaseKey(get(x), caseSensitive);
    }

    /// <summary>Jinja's make_attrgetter: "a.b.0" looks up each part with getitem semantics.</summary>
    private static Func<object?, object?> Getter(object attribute, object? fallback)
    {
        var parts = PyOps.AsString(attribute) is { } s
            ? s.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? (object)i : p).ToArray()
            : [attribute];
        return item =>
        {
            foreach (var part in parts)
            {
                item = Access.GetItem(item, part);
                if (item is Undefined && fallback is not null) return fallback;
            }
            return item;
        };
    }

    private static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        var keyed = items.Select((x, i) => (Key: key(x), Item: x, Index: i)).ToList();
        keyed.Sort((p, q) =>
        {
            int c = PyOps.Compare(p.Key, q.Key);
            if (reverse) c = -c;
            return c != 0 ? c : p.Index.CompareTo(q.Index);
        });
        return keyed.Select(k => k.Item).ToList();
    }

    private static PyGenerator Map(Interpreter interp, object? value, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        var items = PyOps.Truthy(value) ? Iter(value) : [];
        var attribute = kwargs.FirstOrDefault(k => k.Name == "attribute");
        if (attribute.Name is not null)
        {
            var dflt = kwargs.FirstOrDefault(k => k.Name == "default");
            var get = Getter(attribute.Value!, dflt.Name is null ? null : dflt.Value);
            return new PyGenerator(items.Select(get).ToList());
        }
        if (args.Count == 0) throw new TemplateRenderException("FilterArgumentError: map requires a filter argument");
        var filter = PyOps.Str(args[0]);
        var rest = args.Skip(1).ToList();
        return new PyGenerator(items.Select(x => Apply(interp, filter, x, rest, kwargs)).ToList());
    }

    private static PyGenerator Select(Interpreter interp, object? value, List<object?> args, bool keep, string? attribute)
    {
        var get = attribute is null ? (x => x) : Getter(attribute, null);
        Func<object?, bool> test = args.Count == 0
            ? x => PyOps.Truthy(x)
            : x => PyOps.Truthy(Tests.Apply(interp, PyOps.Str(args[0]), x, args.Skip(1).ToList(), 0));
        return new PyGenerator((PyOps.Truthy(value) ? Iter(value) : []).Where(x => test(get(x)) == keep).ToList());
    }

    /// <summary>Binds a filter's positional and keyword arguments to its Python parameter names.</summary>
    private sealed class FilterArgs(string filter, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        private readonly Dictionary<string, object?> _bound = new();

        public void Bind(params string[] names)
        {
            if (args.Count > names.Length) throw PyOps.TypeError($"{filter}() takes at most {names.Length} arguments ({args.Count} given)");
            for (int i = 0; i < args.Count; i++) _bound[names[i]] = args[i];
            foreach (var (k, v) in kwargs)
            {
                if (!names.Contains(k)) throw PyOps.TypeError($"{filter}() got an unexpected keyword argument '{k}'");
                if (!_bound.TryAdd(k, v)) throw PyOps.TypeError($"{filter}() got multiple values for argument '{k}'");
            }
        }

        public bool Has(string name) => _bound.ContainsKey(name);
        public object? Get(string name) => _bound.TryGetValue(name, out var v) ? v : throw PyOps.TypeError($"{filter}() missing required argument '{name}'");
        public object? Get(string name, object? fallback) => _bound.TryGetValue(name, out var v) ? v : fallback;
    }
}
