using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Templates.Runtime;

/// <summary>Python's json.dumps, which HF's tojson filter calls (ensure_ascii=False by default).</summary>
internal static class PyJson
{
    public static string Dumps(object? value, bool ensureAscii, object? indent, object? separators, bool sortKeys)
    {
        string? indentUnit = indent switch
        {
            null => null,
            string s => s,
            Markup m => m.Value,
            _ => new string(' ', (int)Math.Max(0, PyOps.ToLong(indent))),
        };
        string itemSep = indentUnit is null ? ", " : ",", keySep = ": ";
        if (separators is not null)
        {
            var parts = PyOps.Iterate(separators).Select(PyOps.Str).ToList();
            if (parts.Count != 2) throw new TemplateRenderException("ValueError: separators must be a pair");
            (itemSep, keySep) = (parts[0], parts[1]);
        }
        var sb = new StringBuilder();
        new Writer(sb, ensureAscii, indentUnit, itemSep, keySep, sortKeys).Write(value, 0);
        return sb.ToString();
    }

    private sealed class Writer(StringBuilder sb, bool ensureAscii, string? indent, string itemSep, string keySep, bool sortKeys)
    {
        public void Write(object? v, int level)
        {
            switch (v)
            {
                case null: sb.Append("null"); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: sb.Append(FloatText(d)); break;
                case string or Markup: WriteString(PyOps.AsString(v)!); break;
                case PyList or PyTuple: WriteList((IReadOnlyList<object?>)v, level); break;
                case PyDict d: WriteDict(d, level); break;
                default: throw PyOps.TypeError($"Object of type {PyOps.TypeName(v)} is not JSON serializable");
            }
        }

        private static string FloatText(double d) => double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyOps.FloatRepr(d);

        private void NewLine(int level)
        {
            if (indent is null) return;
            sb.Append('\n');
            for (int i = 0; i < level; i++) sb.Append(indent);
        }

        private void WriteList(IReadOnlyList<object?> items, int level)
        {
            if (items.Count == 0) { sb.Append("[]"); return; }
            sb.Append('[');
            for (int i = 0; i < items.Count; i++)
            {
                if (i > 0) sb.Append(itemSep);
                NewLine(level + 1);
                Write(items[i], level + 1);
            }
            NewLine(level);
            sb.Append(']');
        }

        private void WriteDict(PyDict d, int level)
        {
            if (d.Count == 0) { sb.Append("{}"); return; }
            var pairs = d.Pairs.ToList();
            if (sortKeys)
            {
                var keyed = pairs.Select((p, i) => (p, i)).ToList();
                keyed.Sort((x, y) => { int c = PyOps.Compare(x.p.Key, y.p.Key); return c != 0 ? c : x.i.CompareTo(y.i); });
                pairs = keyed.Select(k => k.p).ToList();
            }
            sb.Append('{');
            bool first = true;
            foreach (var (k, v) in pairs)
            {
                if (!first) sb.Append(itemSep);
                first = false;
                NewLine(level + 1);
                WriteString(k switch
                {
                    string or Markup => PyOps.AsString(k)!,
                    bool b => b ? "true" : "false",
                    null => "null",
                    long l => l.ToString(CultureInfo.InvariantCulture),
                    double dbl => FloatText(dbl),
                    _ => throw PyOps.TypeError($"keys must be str, int, float, bool or None, not {PyOps.TypeName(k)}"),
                });
                sb.Append(keySep);
                Write(v, level + 1);
            }
            NewLine(level);
            sb.Append('}');
        }

        private void WriteString(string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }
    }
}

/// <summary>Converts the request's JSON into Jinja values: fresh mutable dicts/lists, integers stay integers.</summary>
internal static class JsonBridge
{
    public static PyDict FromJsonObject(JsonObject obj) => (PyDict)FromNode(obj)!;

    public static object? FromNode(JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case JsonObject o:
                {
                    var d = new PyDict();
                    foreach (var (k, v) in o) d[k] = FromNode(v);
                    return d;
                }
            case JsonArray a: return new PyList(a.Select(FromNode));
            case JsonValue v:
                {
                    if (v.TryGetValue<JsonElement>(out var e)) return FromElement(e);
                    if (v.TryGetValue<bool>(out var b)) return b;
                    if (v.TryGetValue<string>(out var s)) return s;
                    if (v.TryGetValue<long>(out var l)) return l;
                    if (v.TryGetValue<int>(out var i)) return (long)i;
                    if (v.TryGetValue<double>(out var d)) return d;
                    if (v.TryGetValue<float>(out var f)) return (double)f;
                    if (v.TryGetValue<decimal>(out var m)) return (double)m;
                    return FromElement(JsonSerializer.SerializeToElement(v));
                }
            default: throw new InvalidOperationException(node.GetType().Name);
        }
    }

    private static object? FromElement(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetRawText().AsSpan().IndexOfAny(".eE") < 0 && e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.Array => new PyList(e.EnumerateArray().Select(FromElement)),
        JsonValueKind.Object => ObjectFrom(e),
        _ => throw new InvalidOperationException(e.ValueKind.ToString()),
    };

    private static PyDict ObjectFrom(JsonElement e)
    {
        var d = new PyDict();
        foreach (var p in e.EnumerateObject()) d[p.Name] = FromElement(p.Value);
        return d;
    }
}
