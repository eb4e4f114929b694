namespace InferenceServer.Templates.Runtime;

/// <summary>
/// Attribute and item lookup as Jinja2's sandbox does it: `a.b` tries the Python attribute (methods) then the item;
/// `a[b]` tries the item then the attribute; misses give Undefined; names starting with '_' give an Undefined that
/// raises SecurityError when used (SandboxedEnvironment).
/// </summary>
internal static class Access
{
    public static object? GetAttr(object? obj, string name)
    {
        if (obj is Undefined u) throw u.Fail();
        if (name.StartsWith('_')) return Unsafe(obj, name);
        switch (obj)
        {
            case Namespace ns: return ns.Attributes.TryGetValue(name, out var v) ? v : Missing(obj, name);
            case LoopContext loop: return loop.Get(name);
            case PyDict d:
                if (Methods.Find(d, name) is { } dm) return dm;
                return d.TryGetValue(name, out var dv) ? dv : Missing(obj, name);
            default:
                if (Methods.Find(obj, name) is { } m) return m;
                return Missing(obj, name);
        }
    }

    public static object? GetItem(object? obj, object? key)
    {
        if (obj is Undefined u) throw u.Fail();
        switch (obj)
        {
            case PyDict d:
                if (key is not (PyList or PyDict or Namespace or Undefined) && d.TryGetValue(key, out var v)) return v;
                break;
            case PyList or PyTuple:
                if (key is long or bool)
                {
                    var list = (IReadOnlyList<object?>)obj;
                    long i = PyOps.ToLong(key);
                    if (i < 0) i += list.Count;
                    return i >= 0 && i < list.Count ? list[(int)i] : Missing(obj, key);
                }
                break;
            case string or Markup:
                if (key is long or bool)
                {
                    var chars = PyOps.CodePoints(PyOps.AsString(obj)!).ToList();
                    long i = PyOps.ToLong(key);
                    if (i < 0) i += chars.Count;
                    if (i >= 0 && i < chars.Count) return obj is Markup ? new Markup((string)chars[(int)i]!) : chars[(int)i];
                    return Missing(obj, key);
                }
                break;
        }
        return key is string name ? GetAttr(obj, name) : Missing(obj, key);
    }

    private static Undefined Missing(object? obj, object? key) =>
        new(obj is null ? $"'None' has no attribute {PyOps.Repr(key)}" : $"'{PyOps.TypeName(obj)} object' has no attribute {PyOps.Repr(key)}");

    private static Undefined Unsafe(object? obj, string name) =>
        new($"access to attribute '{name}' of '{PyOps.TypeName(obj)}' object is unsafe.", unsafeAccess: true);

    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        IReadOnlyList<object?> items = obj switch
        {
            PyList l => l,
            PyTuple t => t,
            string or Markup => PyOps.CodePoints(PyOps.AsString(obj)!).ToList(),
            _ => throw PyOps.TypeError($"'{PyOps.TypeName(obj)}' object is not subscriptable"),
        };
        var picked = SliceIndices(items.Count, start, stop, step).Select(i => items[i]);
        return obj switch
        {
            PyList => new PyList(picked),
            PyTuple => new PyTuple(picked.ToArray()),
            Markup => new Markup(string.Concat(picked)),
            _ => string.Concat(picked),
        };
    }

    /// <summary>Python's slice.indices semantics.</summary>
    public static IEnumerable<int> SliceIndices(int count, object? start, object? stop, object? step)
    {
        long st = step is null ? 1 : PyOps.ToLong(step);
        if (st == 0) throw new TemplateRenderException("ValueError: slice step cannot be zero");
        long Clamp(object? v, long dflt, long lo, long hi)
        {
            if (v is null) return dflt;
            long x = PyOps.ToLong(v);
            if (x < 0) x += count;
            return Math.Clamp(x, lo, hi);
        }
        if (st > 0)
        {
            long b = Clamp(start, 0, 0, count), e = Clamp(stop, count, 0, count);
            for (long i = b; i < e; i += st) yield return (int)i;
        }
        else
        {
            long b = Clamp(start, count - 1, -1, count - 1), e = Clamp(stop, -1, -1, count - 1);
            for (long i = b; i > e; i += st) yield return (int)i;
        }
    }
}
