namespace InferenceServer.StructuredOutput;

/// <summary>
/// String bodies (between the quotes) for the supported "format" values. Each spells a subset of the
/// format chosen so that every output passes strict validators: days stop at 28 so no month/day
/// combination is impossible, e-mail addresses use a plain dot-atom, hours/minutes/seconds stay in range.
/// </summary>
internal static class StringFormats
{
    public static string? Body(string format, GrammarBuilder g) => format switch
    {
        "date" => Date(g),
        "time" => Time(g),
        "date-time" => g.Rule("date-time-body", $"{Date(g)} \"T\" {Time(g)}"),
        "uuid" => g.Rule("uuid-body", "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}"),
        "email" => g.Rule("email-body", "[a-z0-9]{1,20} ( \".\" [a-z0-9]{1,20} )? \"@\" [a-z0-9]{1,20} \".\" [a-z]{2,6}"),
        "ipv4" => g.Rule("ipv4-body", $"{Octet(g)} \".\" {Octet(g)} \".\" {Octet(g)} \".\" {Octet(g)}"),
        _ => null,
    };

    private static string Date(GrammarBuilder g) => g.Rule("date-body",
        "[1-2] [0-9]{3} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )");

    private static string Time(GrammarBuilder g) => g.Rule("time-body",
        "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,3} )? ( \"Z\" | [+\\x2D] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )");

    private static string Octet(GrammarBuilder g) => g.Rule("octet",
        "( \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9] )");
}
