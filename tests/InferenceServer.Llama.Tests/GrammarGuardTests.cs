using System.Text.Json.Nodes;
using InferenceServer.StructuredOutput;

namespace InferenceServer.Llama.Tests;

/// <summary>Each grammar here would crash the process if it reached LLamaSharp's sampler chain.</summary>
[Collection(TinyModelsCollection.Name)]
public sealed class GrammarGuardTests(TinyModels models)
{
    [Theory]
    [InlineData("root ::= \"{\" [a-z")]                  // unterminated class
    [InlineData("root ::= item")]                       // undefined rule
    [InlineData("item ::= \"x\"")]                      // no root rule
    [InlineData("root ::= root \"x\" | \"y\"")]         // left recursion
    [InlineData("root ::= \"a\" )")]                    // stray parenthesis
    [InlineData("root ::= \"\\q\"")]                    // unknown escape
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("root ::= \"a\0b\"")]
    public void Rejects_grammars_llama_cpp_cannot_load(string gbnf)
    {
        var check = GrammarGuard.Check(models.Stories.NativeHandle, gbnf);
        Assert.False(check.IsUsable);
        Assert.False(string.IsNullOrWhiteSpace(check.Error));
    }

    [Fact]
    public void Rejects_deep_nesting_before_the_recursive_native_parser_sees_it()
    {
        var gbnf = "root ::= " + new string('(', 5000) + "\"a\"" + new string(')', 5000);
        var check = GrammarGuard.Check(models.Stories.NativeHandle, gbnf);
        Assert.Contains("nests", check.Error);
    }

    [Fact]
    public void Accepts_a_valid_grammar() =>
        Assert.True(GrammarGuard.Check(models.Stories.NativeHandle, "root ::= \"yes\" | \"no\"").IsUsable);

    [Fact]
    public void Tiny_stories_656K_cannot_spell_json_objects()
    {
        var check = GrammarGuard.Check(models.TinyStories.NativeHandle, JsonSchemaGrammar.AnyJsonObject);
        Assert.False(check.IsUsable);
        Assert.Contains("'{'", check.Error);
        Assert.Contains("'}'", check.Error);
        Assert.Contains("'['", check.Error);
    }

    [Fact]
    public void Tiny_stories_656K_is_caught_by_the_native_first_token_check_too()
    {
        // '{' inside a class escapes the literal scan; applying the grammar to the vocabulary still finds no token.
        var check = GrammarGuard.Check(models.TinyStories.NativeHandle, "root ::= [{] [a-z]* [}]");
        Assert.False(check.IsUsable);
        Assert.Contains("no token", check.Error);
    }

    [Fact]
    public void Tiny_stories_656K_can_still_use_grammars_it_can_spell()
    {
        var gbnf = JsonSchemaGrammar.FromSchema(JsonNode.Parse("""{"enum":["yes","no"]}""")!);
        Assert.True(GrammarGuard.Check(models.TinyStories.NativeHandle, gbnf).IsUsable);
        var story = JsonSchemaGrammar.FromSchema(JsonNode.Parse("""{"type":"string","maxLength":20}""")!);
        Assert.True(GrammarGuard.Check(models.TinyStories.NativeHandle, story).IsUsable);
    }
}
