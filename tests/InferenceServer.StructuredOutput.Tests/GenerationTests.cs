using System.Text.Json.Nodes;
using InferenceServer.Llama;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>End to end on stories260K: convert, pass the guard, generate under the grammar
/// (greedy and sampled at temperature 1 with fixed seeds), then parse and validate independently.</summary>
[Collection(ModelsCollection.Name)]
public sealed class GenerationTests(ModelsFixture models, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int MaxTokens = 400;

    public static TheoryData<string> SchemaNames() => [.. RealisticSchemas.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(SchemaNames))]
    public void Constrained_output_validates(string name)
    {
        var schemaText = RealisticSchemas.All.Single(s => s.Name == name).Schema;
        var gbnf = JsonSchemaGrammar.FromSchema(JsonNode.Parse(schemaText)!);
        var check = GrammarGuard.Check(models.Stories.NativeHandle, gbnf);
        Assert.True(check.IsUsable, check.Error);

        output.WriteLine($"{name}: grammar {gbnf.Length} chars, {gbnf.Count(c => c == '\n')} rules");
        foreach (uint? seed in new uint?[] { null, 1, 2, 3 })
        {
            var generation = GrammarRunner.Generate(models.Stories, models.StoriesParams, gbnf, MaxTokens, seed);
            var context = $"{name} seed={seed?.ToString() ?? "greedy"}";
            output.WriteLine($"  {context}: {generation.Tokens} tokens: {generation.Text}");
            Assert.True(generation.Finish == FinishReason.Stop, $"{context}: ran out of tokens: {generation.Text}");
            SchemaValidation.AssertValid(schemaText, generation.Text, context);
        }
    }

    [Fact]
    public void Json_object_mode_produces_an_object()
    {
        var check = GrammarGuard.Check(models.Stories.NativeHandle, JsonSchemaGrammar.AnyJsonObject);
        Assert.True(check.IsUsable, check.Error);
        // Left alone, stories260K writes a story into the first string and never closes it (a "length"
        // finish). A bias toward the byte tokens of '"' and '}' stands in for a model that wants to stop;
        // the grammar alone decides which tokens are legal.
        var bias = new Dictionary<LLama.Native.LLamaToken, float> { [(LLama.Native.LLamaToken)('"' + 3)] = 6f, [(LLama.Native.LLamaToken)('}' + 3)] = 6f };
        int stopped = 0;
        foreach (uint? seed in new uint?[] { null, 1, 2, 3 })
        {
            var generation = GrammarRunner.Generate(models.Stories, models.StoriesParams, JsonSchemaGrammar.AnyJsonObject, 200, seed, logitBias: bias);
            output.WriteLine($"json_object seed={seed?.ToString() ?? "greedy"}: {generation.Finish} after {generation.Tokens} tokens: {generation.Text}");
            if (generation.Finish == FinishReason.Length)
                continue; // an unbounded grammar may run out of tokens; that is a "length" finish
            stopped++;
            SchemaValidation.AssertValid("""{"type":"object"}""", generation.Text, $"json_object seed={seed}");
        }
        Assert.True(stopped >= 2, $"only {stopped} of 4 json_object generations closed the object");
    }

    [Fact]
    public void Running_out_of_tokens_is_a_length_finish_with_an_unclosed_prefix()
    {
        var schemaText = """{"type":"object","properties":{"story":{"type":"string"}},"required":["story"],"additionalProperties":false}""";
        var gbnf = JsonSchemaGrammar.FromSchema(JsonNode.Parse(schemaText)!);
        var generation = GrammarRunner.Generate(models.Stories, models.StoriesParams, gbnf, maxTokens: 12, seed: null);
        Assert.Equal(FinishReason.Length, generation.Finish);
        Assert.StartsWith("{\"story\":", generation.Text.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => System.Text.Json.JsonDocument.Parse(generation.Text));
    }
}
