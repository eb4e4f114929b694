namespace InferenceServer.Templates.Runtime;

/// <summary>Global functions: Jinja2's range/namespace/dict and Hugging Face's raise_exception/strftime_now.</summary>
internal static class Globals
{
    public static readonly IReadOnlyList<(string Name, object Value)> All =
    [
        ("range", new BuiltinFunction("range", (_, args, _) => Range(args))),
        ("namespace", new BuiltinFunction("namespace", (_, args, kwargs) =>
        {
            var ns = new Namespace();
            foreach (var a in args)
            {
                if (a is not PyDict d) throw PyOps.TypeError("namespace() positional argument must be a mapping");
                foreach (var (k, v) in d.Pairs) ns.Attributes[k!] = v;
            }
            foreach (var (k, v) in kwargs) ns.Attributes[k] = v;
            return ns;
        })),
        ("dict", new BuiltinFunction("dict", (_, args, kwargs) =>
        {
            var d = new PyDict();
            foreach (var a in args)
                if (a is PyDict src) foreach (var (k, v) in src.Pairs) d[k!] = v;
                else foreach (var pair in PyOps.Iterate(a)) { var kv = PyOps.Iterate(pair).ToList(); d[kv[0]!] = kv[1]; }
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        })),
        ("raise_exception", new BuiltinFunction("raise_exception", (_, args, _) =>
            throw new TemplateRaisedException(args.Count > 0 ? PyOps.Str(args[0]) : ""))),
        ("strftime_now", new BuiltinFunction("strftime_now", (interp, args, _) =>
            Strftime.Format(interp.Clock.GetLocalNow(), PyOps.Str(args.Count > 0 ? args[0] : throw PyOps.TypeError("strftime_now() missing 1 required positional argument: 'format'"))))),
    ];

    private const long MaxRange = 100_000; // Jinja2 sandbox's MAX_RANGE

    private static PyList Range(List<object?> args)
    {
        long start = 0, stop, step = 1;
        switch (args.Count)
        {
            case 1: stop = PyOps.ToLong(NotFloat(args[0])); break;
            case 2: start = PyOps.ToLong(NotFloat(args[0])); stop = PyOps.ToLong(NotFloat(args[1])); break;
            case 3: start = PyOps.ToLong(NotFloat(args[0])); stop = PyOps.ToLong(NotFloat(args[1])); step = PyOps.ToLong(NotFloat(args[2])); break;
            default: throw PyOps.TypeError($"range expected at most 3 arguments, got {args.Count}");
        }
        if (step == 0) throw new TemplateRenderException("ValueError: range() arg 3 must not be zero");
        var result = new PyList();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (result.Count >= MaxRange) throw new TemplateRenderException($"OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
            result.Add(i);
        }
        return result;
    }

    private static object? NotFloat(object? v) => v is double ? throw PyOps.TypeError("'float' object cannot be interpreted as an integer") : v;
}
