using System.Globalization;
using InferenceServer.Templates.Lexing;

namespace InferenceServer.Templates.Parsing;

/// <summary>A recursive-descent parser following jinja2/parser.py, so precedence and corner cases match.</summary>
internal sealed class Parser(List<Token> tokens)
{
    private int _pos;

    private Token Current => tokens[_pos];
    private Token Peek(int ahead = 1) => tokens[Math.Min(_pos + ahead, tokens.Count - 1)];
    private Token Next() => tokens[_pos < tokens.Count - 1 ? _pos++ : _pos];

    private TemplateSyntaxException Fail(string message, Token? at = null) => new(message, (at ?? Current).Line);

    private Token Expect(TokenKind kind, string? value = null)
    {
        var t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
            throw Fail($"expected {(value is null ? kind.ToString() : $"'{value}'")}, got {t}");
        return Next();
    }

    private bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    public TemplateNode ParseTemplate()
    {
        var body = Subparse(null);
        if (Current.Kind != TokenKind.End) throw Fail($"Encountered unknown tag '{Current.Value}'");
        return new TemplateNode(body);
    }

    /// <summary>Parses nodes until a block tag whose name is in <paramref name="endNames"/>; leaves the position on that name.</summary>
    private List<Node> Subparse(string[]? endNames)
    {
        var body = new List<Node>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.Data:
                    Next();
                    body.Add(new DataNode(t.Value, t.Line));
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    body.Add(new EmitNode(ParseTuple(withCondexpr: true), t.Line));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    Next();
                    if (endNames is not null && Current.Kind == TokenKind.Name && endNames.Contains(Current.Value)) return body;
                    body.Add(ParseStatement());
                    Expect(TokenKind.BlockEnd);
                    break;
                case TokenKind.End:
                    if (endNames is not null) throw Fail($"Unexpected end of template. Jinja was looking for: {string.Join(", ", endNames.Select(n => $"'{n}'"))}");
                    return body;
                default:
                    throw Fail($"unexpected {t}");
            }
        }
    }

    private Node ParseStatement()
    {
        var t = Current;
        if (t.Kind != TokenKind.Name) throw Fail("tag name expected");
        Next();
        switch (t.Value)
        {
            case "if": return ParseIf(t.Line);
            case "for": return ParseFor(t.Line);
            case "set": return ParseSet(t.Line);
            case "macro": return ParseMacro(t.Line);
            case "call": return ParseCallBlock(t.Line);
            case "filter":
                {
                    var filters = ParseFilterChain(startInline: true);
                    Expect(TokenKind.BlockEnd);
                    var body = Subparse(["endfilter"]);
                    Next();
                    return new FilterBlockNode(filters, body, t.Line);
                }
            case "generation":
                {
                    Expect(TokenKind.BlockEnd);
                    var body = Subparse(["endgeneration"]);
                    Next();
                    return new ScopeNode(body, t.Line);
                }
            case "break": return new BreakNode(t.Line);
            case "continue": return new ContinueNode(t.Line);
            default: throw Fail($"Encountered unknown tag '{t.Value}'.", t);
        }
    }

    private IfNode ParseIf(int line)
    {
        var test = ParseTuple(withCondexpr: false);
        Expect(TokenKind.BlockEnd);
        var body = Subparse(["elif", "else", "endif"]);
        var tag = Next();
        switch (tag.Value)
        {
            case "elif":
                return new IfNode(test, body, [ParseIf(tag.Line)], line);
            case "else":
                Expect(TokenKind.BlockEnd);
                var elseBody = Subparse(["endif"]);
                Next();
                return new IfNode(test, body, elseBody, line);
            default:
                return new IfNode(test, body, [], line);
        }
    }

    private ForNode ParseFor(int line)
    {
        var target = ParseAssignTarget(extraEnd: "in");
        Expect(TokenKind.Name, "in");
        var iter = ParseTuple(withCondexpr: false, extraEnd: "recursive");
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        bool recursive = SkipName("recursive");
        Expect(TokenKind.BlockEnd);
        var body = Subparse(["endfor", "else"]);
        List<Node> elseBody = [];
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd);
            elseBody = Subparse(["endfor"]);
            Next();
        }
        return new ForNode(target, iter, filter, body, elseBody, recursive, line);
    }

    private Node ParseSet(int line)
    {
        Expr target;
        if (Current.Kind == TokenKind.Name && Peek().IsOp("."))
        {
            var ns = Next();
            Next();
            var attr = Expect(TokenKind.Name);
            target = new GetAttrExpr(new NameExpr(ns.Value, ns.Line), attr.Value, ns.Line);
        }
        else target = ParseAssignTarget(extraEnd: null);

        if (SkipOp("=")) return new AssignNode(target, ParseTuple(withCondexpr: true), line);
        var filters = Current.IsOp("|") ? ParseFilterChain(startInline: false) : [];
        Expect(TokenKind.BlockEnd);
        var body = Subparse(["endset"]);
        Next();
        return new BlockAssignNode(target, filters, body, line);
    }

    private MacroNode ParseMacro(int line)
    {
        var name = Expect(TokenKind.Name).Value;
        var (parameters, defaults) = ParseSignature();
        Expect(TokenKind.BlockEnd);
        var body = Subparse(["endmacro"]);
        Next();
        return new MacroNode(name, parameters, defaults, body, line);
    }

    private CallBlockNode ParseCallBlock(int line)
    {
        var (parameters, defaults) = Current.IsOp("(") ? ParseSignature() : ([], []);
        var call = ParseExpression() as CallExpr ?? throw Fail("expected call", tokens[_pos - 1]);
        Expect(TokenKind.BlockEnd);
        var body = Subparse(["endcall"]);
        Next();
        return new CallBlockNode(call, parameters, defaults, body, line);
    }

    private (List<string>, List<Expr?>) ParseSignature()
    {
        var names = new List<string>();
        var defaults = new List<Expr?>();
        Expect(TokenKind.Operator, "(");
        while (!Current.IsOp(")"))
        {
            if (names.Count > 0) Expect(TokenKind.Operator, ",");
            names.Add(Expect(TokenKind.Name).Value);
            defaults.Add(SkipOp("=") ? ParseExpression() : null);
        }
        Next();
        return (names, defaults);
    }

    private Expr ParseAssignTarget(string? extraEnd)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(extraEnd)) break;
            items.Add(ParsePrimary());
            if (Current.IsOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple && items.Count == 1) return CheckTarget(items[0]);
        if (items.Count == 0) throw Fail("Expected an expression");
        foreach (var i in items) CheckTarget(i);
        return new TupleExpr(items, line);
    }

    private Expr CheckTarget(Expr e) => e switch
    {
        NameExpr n when n.Name is "true" or "false" or "none" or "True" or "False" or "None" => throw Fail($"Can't assign to {n.Name}"),
        NameExpr => e,
        TupleExpr t => t.Items.All(i => CheckTarget(i) is not null) ? e : e,
        _ => throw Fail($"can't assign to {e.GetType().Name}"),
    };

    private bool IsTupleEnd(string? extraEnd)
    {
        var t = Current;
        if (t.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || t.IsOp(")")) return true;
        return extraEnd is not null && t.IsName(extraEnd);
    }

    private Expr ParseTuple(bool withCondexpr, string? extraEnd = null, bool explicitParens = false)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (IsTupleEnd(extraEnd)) break;
            items.Add(withCondexpr ? ParseExpression() : ParseOr());
            if (Current.IsOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParens) throw Fail($"Expected an expression, got {Current}");
        }
        return new TupleExpr(items, line);
    }

    internal Expr ParseExpression()
    {
        int line = Current.Line;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new CondExpr(test, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or")) { int l = Next().Line; left = new BinaryExpr("or", left, ParseAnd(), l); }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and")) { int l = Next().Line; left = new BinaryExpr("and", left, ParseNot(), l); }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not")) { int l = Next().Line; return new UnaryExpr("not", ParseNot(), l); }
        return ParseCompare();
    }

    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Value)) rest.Add((Next().Value, ParseMath1()));
            else if (SkipName("in")) rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek().IsName("in")) { Next(); Next(); rest.Add(("notin", ParseMath1())); }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOp("+") || Current.IsOp("-")) { var op = Next(); left = new BinaryExpr(op.Value, left, ParseConcat(), op.Line); }
        return left;
    }

    private Expr ParseConcat()
    {
        int line = Current.Line;
        var items = new List<Expr> { ParseMath2() };
        while (SkipOp("~")) items.Add(ParseMath2());
        return items.Count == 1 ? items[0] : new ConcatExpr(items, line);
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.IsOp("*") || Current.IsOp("/") || Current.IsOp("//") || Current.IsOp("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParsePow(), op.Line);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOp("**")) { var op = Next(); left = new BinaryExpr("**", left, ParseUnary(withFilter: true), op.Line); }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr node;
        if (Current.IsOp("-") || Current.IsOp("+")) { var op = Next(); node = new UnaryExpr(op.Value, ParseUnary(withFilter: false), op.Line); }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterExpr(node);
        return node;
    }

    private Expr ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case TokenKind.Name:
                Next();
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true, t.Line),
                    "false" or "False" => new ConstExpr(false, t.Line),
                    "none" or "None" => new ConstExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case TokenKind.String:
                {
                    Next();
                    var s = t.Value;
                    while (Current.Kind == TokenKind.String) s += Next().Value; // implicit concatenation
                    return new ConstExpr(s, t.Line);
                }
            case TokenKind.Integer:
                Next();
                return new ConstExpr(long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? (object)l : double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Float:
                Next();
                return new ConstExpr(double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Operator when t.Value == "(":
                {
                    Next();
                    var e = ParseTuple(withCondexpr: true, explicitParens: true);
                    Expect(TokenKind.Operator, ")");
                    return e;
                }
            case TokenKind.Operator when t.Value == "[":
                {
                    Next();
                    var items = new List<Expr>();
                    while (!Current.IsOp("]"))
                    {
                        if (items.Count > 0) Expect(TokenKind.Operator, ",");
                        if (Current.IsOp("]")) break;
                        items.Add(ParseExpression());
                    }
                    Next();
                    return new ListExpr(items, t.Line);
                }
            case TokenKind.Operator when t.Value == "{":
                {
                    Next();
                    var pairs = new List<(Expr, Expr)>();
                    while (!Current.IsOp("}"))
                    {
                        if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                        if (Current.IsOp("}")) break;
                        var key = ParseExpression();
                        Expect(TokenKind.Operator, ":");
                        pairs.Add((key, ParseExpression()));
                    }
                    Next();
                    return new DictExpr(pairs, t.Line);
                }
            default:
                throw Fail($"unexpected {t}");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOp(".") || Current.IsOp("[")) node = ParseSubscript(node);
            else if (Current.IsOp("(")) node = ParseCall(node);
            else return node;
        }
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOp("|")) node = ParseFilterChain(startInline: false).Aggregate(node, (value, f) => new FilterExpr(value, f, f.Line));
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOp("(")) node = ParseCall(node);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        var t = Next();
        if (t.Value == ".")
        {
            var attr = Next();
            if (attr.Kind == TokenKind.Name) return new GetAttrExpr(node, attr.Value, t.Line);
            if (attr.Kind == TokenKind.Integer) return new GetItemExpr(node, new ConstExpr(long.Parse(attr.Value, CultureInfo.InvariantCulture), attr.Line), t.Line);
            throw Fail("expected name or number", attr);
        }
        var args = new List<Expr>();
        while (!Current.IsOp("]"))
        {
            if (args.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOp("]")) break;
            }
            args.Add(ParseSubscribed());
        }
        Next();
        return new GetItemExpr(node, args.Count == 1 ? args[0] : new TupleExpr(args, t.Line), t.Line);
    }

    private Expr ParseSubscribed()
    {
        int line = Current.Line;
        Expr? start = null;
        if (Current.IsOp(":")) Next();
        else
        {
            var e = ParseExpression();
            if (!Current.IsOp(":")) return e;
            Next();
            start = e;
        }
        Expr? stop = null, step = null;
        if (!Current.IsOp(":") && !Current.IsOp("]") && !Current.IsOp(",")) stop = ParseExpression();
        if (SkipOp(":") && !Current.IsOp("]") && !Current.IsOp(",")) step = ParseExpression();
        return new SliceExpr(start, stop, step, line);
    }

    private CallExpr ParseCall(Expr node)
    {
        int line = Current.Line;
        var (args, kwargs) = ParseCallArgs();
        return new CallExpr(node, args, kwargs, line);
    }

    private (List<Expr>, List<(string, Expr)>) ParseCallArgs()
    {
        Expect(TokenKind.Operator, "(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        bool requireComma = false;
        while (!Current.IsOp(")"))
        {
            if (requireComma)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOp(")")) break;
            }
            if (Current.IsOp("*") || Current.IsOp("**")) throw Fail("*args and **kwargs are not supported");
            if (Current.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                var key = Next().Value;
                Next();
                kwargs.Add((key, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Fail("Invalid argument syntax: positional argument after keyword argument");
                args.Add(ParseExpression());
            }
            requireComma = true;
        }
        Next();
        return (args, kwargs);
    }

    private List<FilterCall> ParseFilterChain(bool startInline)
    {
        var filters = new List<FilterCall>();
        while (Current.IsOp("|") || startInline)
        {
            if (!startInline) Next();
            startInline = false;
            var nameToken = Expect(TokenKind.Name);
            var name = nameToken.Value;
            while (Current.IsOp(".")) { Next(); name += "." + Expect(TokenKind.Name).Value; }
            var (args, kwargs) = Current.IsOp("(") ? ParseCallArgs() : ([], []);
            filters.Add(new FilterCall(name, args, kwargs, nameToken.Line));
        }
        return filters;
    }

    private Expr ParseTest(Expr node)
    {
        var isToken = Next();
        bool negated = SkipName("not");
        var name = Expect(TokenKind.Name).Value;
        while (Current.IsOp(".")) { Next(); name += "." + Expect(TokenKind.Name).Value; }
        List<Expr> args = [];
        List<(string, Expr)> kwargs = [];
        var c = Current;
        if (c.IsOp("(")) (args, kwargs) = ParseCallArgs();
        else if ((c.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || c.IsOp("[") || c.IsOp("{"))
                 && !c.IsName("else") && !c.IsName("or") && !c.IsName("and"))
        {
            if (c.IsName("is")) throw Fail("You cannot chain multiple tests with is");
            args = [ParsePostfix(ParsePrimary())];
        }
        Expr test = new TestExpr(node, name, args, kwargs, isToken.Line);
        return negated ? new UnaryExpr("not", test, isToken.Line) : test;
    }
}
