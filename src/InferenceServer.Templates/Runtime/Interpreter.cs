using System.Text;
using InferenceServer.Templates.Parsing;

namespace InferenceServer.Templates.Runtime;

/// <summary>Variables of one frame. Like Jinja2: for-loops, macros, block sets, filter blocks and call bodies get their own frame; if-blocks do not.</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);
    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value) => _vars[name] = value;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }
}

/// <summary>A {% macro %} (or the body of a {% call %} block, bound as `caller`). Closes over its defining frame.</summary>
internal sealed class Macro(string name, List<string> parameters, List<Expr?> defaults, List<Node> body, Scope closure, Macro? caller) : ICallableValue
{
    public string Name { get; } = name;

    public object? Call(Interpreter interpreter, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        var scope = new Scope(closure);
        var extraKwargs = new PyDict();
        var bound = new bool[parameters.Count];
        for (int i = 0; i < args.Count && i < parameters.Count; i++) { scope.Set(parameters[i], args[i]); bound[i] = true; }
        foreach (var (key, value) in kwargs)
        {
            int index = parameters.IndexOf(key);
            if (index < 0) { if (key == "caller" && caller is null) scope.Set("caller", value); else extraKwargs[key] = value; continue; }
            if (bound[index]) throw PyOps.TypeError($"macro '{Name}' got multiple values for argument '{key}'");
            scope.Set(key, value);
            bound[index] = true;
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            if (bound[i]) continue;
            scope.Set(parameters[i], defaults[i] is { } d ? interpreter.Eval(d, scope) : new Undefined($"parameter '{parameters[i]}' was not provided"));
        }
        scope.Set("varargs", new PyTuple(args.Skip(parameters.Count).ToArray()));
        scope.Set("kwargs", extraKwargs);
        if (caller is not null) scope.Set("caller", caller);
        var sb = new StringBuilder();
        interpreter.RenderBody(body, scope, sb);
        return sb.ToString();
    }
}

/// <summary>Renders a parsed template. One instance per render; not thread-safe.</summary>
internal sealed class Interpreter(TimeProvider clock)
{
    private enum Flow { Normal, Break, Continue }

    private const int MaxDepth = 500;
    private int _depth;

    public TimeProvider Clock { get; } = clock;

    public string Render(TemplateNode template, PyDict context)
    {
        var globals = new Scope(null);
        foreach (var (name, fn) in Globals.All) globals.Set(name, fn);
        var root = new Scope(globals);
        foreach (var (key, value) in context.Pairs) root.Set((string)key!, value);
        var sb = new StringBuilder();
        RenderBody(template.Body, root, sb);
        return sb.ToString();
    }

    public void RenderBody(List<Node> body, Scope scope, StringBuilder sb)
    {
        if (++_depth > MaxDepth) throw new TemplateRenderException("RecursionError: maximum recursion depth exceeded");
        try
        {
            if (Render(body, scope, sb) != Flow.Normal) throw new TemplateRenderException("break/continue outside of a loop");
        }
        finally { _depth--; }
    }

    private Flow Render(List<Node> body, Scope scope, StringBuilder sb)
    {
        foreach (var node in body)
        {
            var flow = Render(node, scope, sb);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Render(Node node, Scope scope, StringBuilder sb)
    {
        switch (node)
        {
            case DataNode d: sb.Append(d.Text); return Flow.Normal;
            case EmitNode e: sb.Append(PyOps.Str(Eval(e.Value, scope))); return Flow.Normal;
            case IfNode i: return Render(PyOps.Truthy(Eval(i.Test, scope)) ? i.Body : i.Else, scope, sb);
            case ForNode f: RenderFor(f, scope, sb); return Flow.Normal;
            case AssignNode a: Assign(a.Target, Eval(a.Value, scope), scope); return Flow.Normal;
            case BlockAssignNode b:
                {
                    var inner = new StringBuilder();
                    RenderBody(b.Body, new Scope(scope), inner);
                    object? value = inner.ToString();
                    foreach (var f in b.Filters) value = ApplyFilter(f, value, scope);
                    Assign(b.Target, value, scope);
                    return Flow.Normal;
                }
            case MacroNode m:
                scope.Set(m.Name, new Macro(m.Name, m.Params, m.Defaults, m.Body, scope, null));
                return Flow.Normal;
            case CallBlockNode c:
                {
                    var caller = new Macro("caller", c.Params, c.Defaults, c.Body, scope, null);
                    var callee = Eval(c.Call.Target, scope);
                    var args = c.Call.Args.Select(a => Eval(a, scope)).ToList();
                    var kwargs = c.Call.Kwargs.Select(k => (k.Name, Eval(k.Value, scope))).ToList();
                    kwargs.Add(("caller", caller));
                    sb.Append(PyOps.Str(Invoke(callee, args, kwargs)));
                    return Flow.Normal;
                }
            case FilterBlockNode fb:
                {
                    var inner = new StringBuilder();
                    RenderBody(fb.Body, new Scope(scope), inner);
                    object? value = inner.ToString();
                    foreach (var f in fb.Filters) value = ApplyFilter(f, value, scope);
                    sb.Append(PyOps.Str(value));
                    return Flow.Normal;
                }
            case ScopeNode s: RenderBody(s.Body, new Scope(scope), sb); return Flow.Normal;
            case BreakNode: return Flow.Break;
            case ContinueNode: return Flow.Continue;
            default: throw new InvalidOperationException(node.GetType().Name);
        }
    }

    private void RenderFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var iterable = Eval(f.Iter, scope);
        if (f.Recursive) throw new TemplateRenderException("recursive for loops are not supported");
        var items = PyOps.Iterate(iterable).ToList();
        var loopScope = new Scope(scope);
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                Assign(f.Target, item, loopScope);
                if (PyOps.Truthy(Eval(f.Filter, loopScope))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            Render(f.Else, scope, sb);
            return;
        }
        int depth0 = scope.TryGet("loop", out var outer) && outer is LoopContext o ? o.Depth0 + 1 : 0;
        var loop = new LoopContext(items, depth0);
        loopScope.Set("loop", loop);
        if (++_depth > MaxDepth) throw new TemplateRenderException("RecursionError: maximum recursion depth exceeded");
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                loop.Index0 = i;
                Assign(f.Target, items[i], loopScope);
                if (Render(f.Body, loopScope, sb) == Flow.Break) break;
            }
        }
        finally { _depth--; }
    }

    private void Assign(Expr target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameExpr n: scope.Set(n.Name, value); break;
            case TupleExpr t:
                {
                    var values = PyOps.Iterate(value).ToList();
                    if (values.Count != t.Items.Count)
                        throw new TemplateRenderException(values.Count > t.Items.Count
                            ? $"ValueError: too many values to unpack (expected {t.Items.Count})"
                            : $"ValueError: not enough values to unpack (expected {t.Items.Count}, got {values.Count})");
                    for (int i = 0; i < values.Count; i++) Assign(t.Items[i], values[i], scope);
                    break;
                }
            case GetAttrExpr { Target: NameExpr ns } a:
                if (Eval(ns, scope) is not Namespace space) throw new TemplateRenderException("TemplateRuntimeError: cannot assign attribute on non-namespace object");
                space.Attributes[a.Name] = value;
                break;
            default: throw new TemplateRenderException("cannot assign to this target");
        }
    }

    public object? Eval(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : new Undefined($"'{n.Name}' is undefined");
            case ListExpr l: return new PyList(l.Items.Select(i => Eval(i, scope)));
            case TupleExpr t: return new PyTuple(t.Items.Select(i => Eval(i, scope)).ToArray());
            case DictExpr d:
                {
                    var dict = new PyDict();
                    foreach (var (k, val) in d.Pairs) dict[Eval(k, scope)!] = Eval(val, scope);
                    return dict;
                }
            case GetAttrExpr a: return Access.GetAttr(Eval(a.Target, scope), a.Name);
            case GetItemExpr g:
                {
                    var target = Eval(g.Target, scope);
                    if (g.Key is SliceExpr s)
                    {
                        if (target is Undefined u) throw u.Fail();
                        return Access.Slice(target, s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope));
                    }
                    return Access.GetItem(target, Eval(g.Key, scope));
                }
            case CallExpr call:
                {
                    var callee = Eval(call.Target, scope);
                    var args = call.Args.Select(a => Eval(a, scope)).ToList();
                    var kwargs = call.Kwargs.Select(k => (k.Name, Eval(k.Value, scope))).ToList();
                    return Invoke(callee, args, kwargs);
                }
            case FilterExpr f: return ApplyFilter(f.Filter, Eval(f.Value, scope), scope);
            case TestExpr t:
                return Tests.Apply(this, t.Name, Eval(t.Value, scope), t.Args.Select(a => Eval(a, scope)).ToList(), t.Line);
            case UnaryExpr u:
                {
                    var operand = Eval(u.Operand, scope);
                    return u.Op switch
                    {
                        "not" => !PyOps.Truthy(operand),
                        "-" => PyOps.Negate(operand),
                        _ => operand is long or double or bool ? (operand is bool b ? (b ? 1L : 0L) : operand) : throw PyOps.TypeError($"bad operand type for unary +: '{PyOps.TypeName(operand)}'"),
                    };
                }
            case BinaryExpr b:
                {
                    var left = Eval(b.Left, scope);
                    if (b.Op == "and") return PyOps.Truthy(left) ? Eval(b.Right, scope) : left;
                    if (b.Op == "or") return PyOps.Truthy(left) ? left : Eval(b.Right, scope);
                    return PyOps.Arithmetic(b.Op, left, Eval(b.Right, scope));
                }
            case ConcatExpr c:
                {
                    var sb = new StringBuilder();
                    foreach (var item in c.Items) sb.Append(PyOps.Str(Eval(item, scope)));
                    return sb.ToString();
                }
            case CompareExpr c:
                {
                    var left = Eval(c.First, scope);
                    foreach (var (op, operandExpr) in c.Rest)
                    {
                        var right = Eval(operandExpr, scope);
                        if (!Compare(op, left, right)) return false;
                        left = right;
                    }
                    return true;
                }
            case CondExpr c:
                if (PyOps.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? Undefined.ConditionalWithoutElse : Eval(c.Else, scope);
            default: throw new InvalidOperationException(expr.GetType().Name);
        }
    }

    private static bool Compare(string op, object? left, object? right) => op switch
    {
        "==" => PyOps.Equal(left, right),
        "!=" => !PyOps.Equal(left, right),
        "<" => PyOps.Compare(Defined(left), Defined(right)) < 0,
        "<=" => PyOps.Compare(Defined(left), Defined(right)) <= 0,
        ">" => PyOps.Compare(Defined(left), Defined(right)) > 0,
        ">=" => PyOps.Compare(Defined(left), Defined(right)) >= 0,
        "in" => PyOps.Contains(right, left),
        "notin" => !PyOps.Contains(right, left),
        _ => throw new InvalidOperationException(op),
    };

    private static object? Defined(object? v) => v is Undefined u ? throw u.Fail() : v;

    public object? Invoke(object? callee, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        if (callee is ICallableValue fn)
        {
            if (++_depth > MaxDepth) throw new TemplateRenderException("RecursionError: maximum recursion depth exceeded");
            try { return fn.Call(this, args, kwargs); }
            finally { _depth--; }
        }
        if (callee is Undefined u) throw u.Fail();
        throw PyOps.TypeError($"'{PyOps.TypeName(callee)}' object is not callable");
    }

    private object? ApplyFilter(FilterCall f, object? value, Scope scope) =>
        Filters.Apply(this, f.Name, value, f.Args.Select(a => Eval(a, scope)).ToList(), f.Kwargs.Select(k => (k.Name, Eval(k.Value, scope))).ToList());
}
