using System.Text.Json.Nodes;
using InferenceServer.Engine;
using InferenceServer.ToolCalls;
using Xunit.Abstractions;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>
/// The lazy grammar of strict tools, in llama.cpp's grammar sampler, for every tool-call family the chat templates in
/// tests/fixtures/chat-templates use: what the model writes from a call's first character on parses as a call whose
/// arguments validate, sampled at temperature 1 from stories260K; from the same call head without the grammar, it does not.
/// </summary>
[Collection(ModelsCollection.Name)]
public sealed class StrictToolCallTests(ModelsFixture models, ITestOutputHelper output)
{
    private const int Samples = 10;
    private const string WeatherSchema = """
        {"type":"object","properties":{"location":{"type":"string","maxLength":24},"unit":{"type":"string","enum":["celsius","fahrenheit"]},
         "days":{"type":"integer","minimum":1,"maximum":7}},"required":["location","unit","days"],"additionalProperties":false}
        """;
    private const string Arguments = """{"location":"Paris","unit":"celsius","days":3}""";

    private static readonly FunctionDefinition[] Functions =
    [
        new("get_weather", JsonNode.Parse(WeatherSchema), Strict: true),
        new("get_time", JsonNode.Parse("""{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}"""), Strict: false),
    ];

    /// <summary>Per family: a valid call section as the model would write it, and the head of a call up to its arguments.</summary>
    public static TheoryData<ToolCallFormat, string, string> Families => new()
    {
        { ToolCallFormat.Hermes, $"<tool_call>\n{{\"name\": \"get_weather\", \"arguments\": {Arguments}}}\n</tool_call>", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " },
        { ToolCallFormat.Llama3, $"<|python_tag|>{{\"name\": \"get_weather\", \"parameters\": {Arguments}}}", "{\"name\": \"get_weather\", \"parameters\": " },
        { ToolCallFormat.Mistral, $"[TOOL_CALLS][{{\"name\": \"get_weather\", \"arguments\": {Arguments}}}]", "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": " },
        { ToolCallFormat.FunctionaryV3, $">>>get_weather\n{Arguments}", ">>>get_weather\n" },
        { ToolCallFormat.FunctionaryV3Llama31, $"<function=get_weather>{Arguments}</function>", "<function=get_weather>" },
        { ToolCallFormat.DeepSeek, $"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{Arguments}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
          "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" },
        { ToolCallFormat.Generic, $"{{\"name\": \"get_weather\", \"arguments\": {Arguments}}}", "{\"name\": \"get_weather\", \"arguments\": " },
    };

    [Fact]
    public void Every_family_of_the_fixture_templates_is_covered()
    {
        var used = Directory.GetFiles(TestFixtures.ChatTemplatesDirectory, "*.jinja").Select(f => ToolCallSyntax.Detect(File.ReadAllText(f))).ToHashSet();
        Assert.Subset(Families.Select(row => (ToolCallFormat)row[0]).ToHashSet(), used);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void The_grammar_accepts_a_valid_call_and_refuses_broken_arguments(ToolCallFormat format, string section, string head)
    {
        var syntax = ToolCallSyntax.Of(format);
        var lazy = ToolCallGrammar.BuildLazy(syntax, Functions, parallel: false);
        var model = models.Stories;

        Assert.True(GrammarRunner.Accepts(model, lazy.Gbnf, section), section);
        Assert.False(GrammarRunner.Accepts(model, lazy.Gbnf, section.Replace("\"days\":3", "\"days\":9", StringComparison.Ordinal)), "days 9");
        Assert.False(GrammarRunner.Accepts(model, lazy.Gbnf, head + "{\"location\": 5}"), "a broken prefix");
        // A non-strict tool of the same request: any JSON object.
        var loose = section.Replace("get_weather", "get_time", StringComparison.Ordinal).Replace(Arguments, """{"whatever":[1,2]}""", StringComparison.Ordinal);
        Assert.True(GrammarRunner.Accepts(model, lazy.Gbnf, loose), loose);
        // What the grammar allows, the family's parser reads as the call.
        var call = Assert.Single(syntax.Parse(section).ToolCalls);
        Assert.Equal(("get_weather", Arguments), (call.Name, call.Arguments));
        // A trigger inside a token: the grammar also takes the text before it in that token.
        var after = new SamplingGrammar(lazy.Gbnf).After("Sure! ");
        Assert.True(GrammarRunner.Accepts(model, after.Gbnf, "Sure! " + section, after.Root));
        Assert.False(GrammarRunner.Accepts(model, after.Gbnf, "Sure? " + section, after.Root));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Sampled_under_the_grammar_every_call_validates_and_without_it_none_does(ToolCallFormat format, string section, string head)
    {
        _ = section;
        var syntax = ToolCallSyntax.Of(format);
        // The strict tool alone: a non-strict one's arguments may be any object, which a story model never closes.
        var lazy = ToolCallGrammar.BuildLazy(syntax, [Functions[0]], parallel: false);
        // The same call head, then anything: what the parse-only path gets from the model.
        var free = new SamplingGrammar("root ::= [^\\x00]*\n").After(head);
        int strictValid = 0, freeCalls = 0, freeValid = 0;
        for (uint seed = 1; seed <= Samples; seed++)
        {
            var held = GrammarRunner.Generate(models.Stories, models.StoriesParams, lazy.Gbnf, 400, seed);
            Assert.True(held.Finish == FinishReason.Stop, held.Text);
            foreach (var call in syntax.Parse(held.Text).ToolCalls)
            {
                if (call.Name != "get_weather") continue;
                SchemaValidation.AssertValid(WeatherSchema, call.Arguments, $"{format} seed {seed}: {held.Text}");
                strictValid++;
            }
            var loose = GrammarRunner.Generate(models.Stories, models.StoriesParams, free.Gbnf, 120, seed, root: free.Root);
            var parsed = syntax.Parse(loose.Text).ToolCalls;
            freeCalls += parsed.Count;
            freeValid += parsed.Count(c => c.Name == "get_weather" && Validates(c.Arguments));
        }
        output.WriteLine($"{format}: under the grammar {strictValid}/{Samples} calls validate; without it {freeCalls} calls parsed, {freeValid} validate");
        Assert.Equal((Samples, 0), (strictValid, freeValid));
    }

    private static bool Validates(string arguments)
    {
        try
        {
            SchemaValidation.AssertValid(WeatherSchema, arguments, "");
            return true;
        }
        catch (Xunit.Sdk.XunitException)
        {
            return false;
        }
    }
}
