namespace InferenceServer.StructuredOutput;

/// <summary>Shared rules for JSON lexical pieces. Each is added to a grammar once, on first use.</summary>
internal static class JsonPrimitives
{
    /// <summary>At most one newline plus 8 spaces, or one space: bounded, so generation cannot loop on it.
    /// The newline is written as a class because GrammarGuard counts only literal characters as required.</summary>
    public static string Ws(GrammarBuilder g) => g.Rule("ws", "( \" \" | [\\x0A] \" \"{0,8} )?");

    public static string Char(GrammarBuilder g) => g.Rule("char",
        Gbnf.CharClass([(0x00, 0x1F), ('"', '"'), ('\\', '\\')], negated: true)
        // \u escapes skip D800-DFFF: a lone surrogate is not valid text for most JSON parsers.
        + " | [\\x5C] ( " + Gbnf.CharClass([('"', '"'), ('/', '/'), ('\\', '\\'), ('b', 'b'), ('f', 'f'), ('n', 'n'), ('r', 'r'), ('t', 't')])
        + " | \"u\" [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} )");

    public static string String(GrammarBuilder g) => g.Rule("string", $"\"\\x22\" {Char(g)}* \"\\x22\"");

    public static string Integer(GrammarBuilder g) => g.Rule("integer", IntegerRange.Expression(null, null));

    /// <summary>At most 16 integer digits, 12 fraction digits and a one-digit exponent: every number
    /// fits a double and a .NET decimal (validators compare enum/const numbers as decimals).</summary>
    public static string Number(GrammarBuilder g) => g.Rule("number",
        $"{Integer(g)} ( \".\" [0-9]{{1,12}} )? ( [eE] [\\x2D+]? [0-9] )?");

    public static string Boolean(GrammarBuilder g) => g.Rule("boolean", "( \"true\" | \"false\" )");

    public static string Null(GrammarBuilder g) => "\"null\"";

    public static string AnyValue(GrammarBuilder g)
    {
        // value -> object/array -> value: reserve the name first so the recursion can refer to it.
        if (g.Shared.TryGetValue("value", out var existing))
            return existing;
        var value = g.Reserve("value");
        g.Shared["value"] = value;
        g.Define(value, $"{AnyObject(g)} | {AnyArray(g)} | {String(g)} | {Number(g)} | {Boolean(g)} | {Null(g)}");
        return value;
    }

    public static string AnyObject(GrammarBuilder g)
    {
        var value = AnyValue(g);
        var ws = Ws(g);
        var member = g.Rule("member", $"{String(g)} {ws} \":\" {ws} {value} {ws}");
        return g.Rule("object", $"\"{{\" {ws} ( {member} ( \",\" {ws} {member} )* )? \"}}\"");
    }

    private static string AnyArray(GrammarBuilder g)
    {
        var value = AnyValue(g);
        var ws = Ws(g);
        var element = g.Rule("element", $"{value} {ws}");
        return g.Rule("array", $"\"[\" {ws} ( {element} ( \",\" {ws} {element} )* )? \"]\"");
    }
}
