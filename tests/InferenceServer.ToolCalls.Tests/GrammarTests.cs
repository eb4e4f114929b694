using System.Text.Json.Nodes;

namespace InferenceServer.ToolCalls.Tests;

public class GrammarTests
{
    [Fact]
    public void Prefixing_renames_rules_but_not_literals_classes_or_counts()
    {
        var gbnf = "root ::= \"{\" ws value \"}\"\nvalue ::= [a-z-]{1,3} | \"ws\"\nws ::= \" \"?\n";
        Assert.Equal("f0-root ::= \"{\" f0-ws f0-value \"}\"\nf0-value ::= [a-z-]{1,3} | \"ws\"\nf0-ws ::= \" \"?\n", ToolCallGrammar.Prefixed(gbnf, "f0-"));
    }

    [Fact]
    public void A_hermes_grammar_wraps_each_function_in_tool_call_tags()
    {
        var schema = JsonNode.Parse("""{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}""");
        var gbnf = ToolCallGrammar.Build(ToolCallSyntax.Of(ToolCallFormat.Hermes), [new FunctionDefinition("get_weather", schema), new FunctionDefinition("get_time", null)], parallel: true);
        Assert.StartsWith("root ::= call (\"\\n\" call)*\ncall ::= f0-call | f1-call\n", gbnf);
        Assert.Contains("f0-call ::= \"<tool_call>\\n\" \"{\\\"name\\\": \\\"get_weather\\\", \\\"arguments\\\": \" f0-root \"}\" \"\\n</tool_call>\"", gbnf);
        Assert.Contains("f1-root ::= ", gbnf);
    }
}
