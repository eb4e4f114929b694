using System.Collections;

namespace InferenceServer.Templates.Runtime;

// Jinja values are plain CLR objects: null (None), bool, long, double, string, Markup, PyList, PyTuple, PyDict,
// Namespace, Undefined, LoopContext, ICallableValue. Python semantics live in PyOps.

/// <summary>Jinja2's default Undefined: prints empty, is falsy, iterates as empty; any other use raises.</summary>
internal sealed class Undefined(string message, bool unsafeAccess = false)
{
    public static readonly Undefined ConditionalWithoutElse = new("the inline if-expression evaluated to false and no else section was defined.");
    public string Message { get; } = message;
    public bool UnsafeAccess { get; } = unsafeAccess;
    public TemplateRenderException Fail() => new(UnsafeAccess ? $"SecurityError: {Message}" : $"UndefinedError: {Message}");
}

/// <summary>markupsafe.Markup: a string marked safe; concatenating a plain string with it HTML-escapes the plain one.</summary>
internal sealed record Markup(string Value)
{
    public override string ToString() => Value;
}

internal sealed class PyList : List<object?>
{
    public PyList() { }
    public PyList(IEnumerable<object?> items) : base(items) { }
}

internal sealed class PyTuple(object?[] items) : IReadOnlyList<object?>
{
    public object?[] Items { get; } = items;
    public int Count => Items.Length;
    public object? this[int index] => Items[index];
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (1 == 1.0 == True).</summary>
internal sealed class PyDict : IEnumerable<KeyValuePair<object, object?>>
{
    private readonly OrderedDictionary<object, object?> _items = new(PyKeyComparer.Instance);

    public int Count => _items.Count;
    public object? this[object key] { get => _items[Key(key)]; set => _items[Key(key)] = value; }
    public bool TryGetValue(object? key, out object? value) => _items.TryGetValue(Key(key), out value);
    public bool ContainsKey(object? key) => _items.ContainsKey(Key(key));
    public bool Remove(object? key) => _items.Remove(Key(key));
    public IEnumerable<object?> Keys => _items.Keys.Select(k => k is NoneKey ? null : k);
    public IEnumerable<object?> Values => _items.Values;
    public IEnumerable<(object? Key, object? Value)> Pairs => _items.Select(p => (p.Key is NoneKey ? null : p.Key, p.Value));
    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => _items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static object Key(object? key) => key switch
    {
        null => NoneKey.Instance,
        PyList or PyDict or Undefined or Namespace => throw new TemplateRenderException($"TypeError: unhashable type: '{PyOps.TypeName(key)}'"),
        _ => key,
    };

    private sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();
    }

    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();
        public new bool Equals(object? x, object? y) => PyOps.Equal(x, y);
        public int GetHashCode(object obj) => PyOps.Hash(obj);
    }
}

/// <summary>Jinja2's namespace(): attributes assignable with {% set ns.attr = ... %}.</summary>
internal sealed class Namespace
{
    public PyDict Attributes { get; } = new();
}

internal interface ICallableValue
{
    object? Call(Interpreter interpreter, List<object?> args, List<(string Name, object? Value)> kwargs);
}

/// <summary>A method of a str/list/dict value, resolved by name when called (see Methods).</summary>
internal sealed record BoundMethod(object Target, string Name) : ICallableValue
{
    public object? Call(Interpreter interpreter, List<object?> args, List<(string Name, object? Value)> kwargs) =>
        Methods.Call(this, args, kwargs);
}

internal sealed record BuiltinFunction(string Name, Func<Interpreter, List<object?>, List<(string Name, object? Value)>, object?> Body) : ICallableValue
{
    public object? Call(Interpreter interpreter, List<object?> args, List<(string Name, object? Value)> kwargs) => Body(interpreter, args, kwargs);
}

/// <summary>The `loop` variable inside a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth0)
{
    public int Index0 { get; set; }
    public IReadOnlyList<object?> Items { get; } = items;
    public int Depth0 { get; } = depth0;
    private object? _lastChanged = Unset;
    private static readonly object Unset = new();

    public object? Get(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => (long)Depth0 + 1,
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Items.Count - 1 ? Items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new BuiltinFunction("cycle", (_, args, _) =>
            args.Count == 0 ? throw new TemplateRenderException("TypeError: no items for cycling given") : args[Index0 % args.Count]),
        "changed" => new BuiltinFunction("changed", (_, args, _) =>
        {
            var value = new PyList(args);
            if (_lastChanged != Unset && PyOps.Equal(_lastChanged, value)) return false;
            _lastChanged = value;
            return true;
        }),
        _ => new Undefined($"'LoopContext' object has no attribute '{name}'"),
    };
}

/// <summary>
/// A Python generator (what map/select/selectattr/items/unique/batch/reverse return in Jinja2): single pass,
/// always truthy, no len(), not JSON serializable; `|list` materializes it.
/// </summary>
internal sealed class PyGenerator(IEnumerable<object?> source)
{
    private IEnumerator<object?>? _enumerator;

    public IEnumerable<object?> Drain()
    {
        _enumerator ??= source.GetEnumerator();
        while (_enumerator.MoveNext()) yield return _enumerator.Current;
    }
}
