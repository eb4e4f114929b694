using System.Text.Json.Nodes;
using InferenceServer.Api;
using InferenceServer.Contracts;
using InferenceServer.Engine;

namespace InferenceServer.Serving.Tests;

/// <summary>response_format as OpenAI checks it, before any grammar reaches the model.</summary>
public sealed class ResponseFormatTests
{
    private sealed class AnyGrammar : IGrammarChecker
    {
        public string? FindProblem(SamplingGrammar grammar) => null;
    }

    private static SamplingGrammar? Read(string format) =>
        ResponseFormat.Read(new RequestReader(new JsonObject { ["response_format"] = JsonNode.Parse(format) }), new AnyGrammar());

    [Theory]
    [InlineData("""{"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}""", "missing_required_parameter")]
    [InlineData("""{"type": "json_schema", "json_schema": {"name": "a b", "schema": {"type": "object"}}}""", "invalid_value")]
    [InlineData("""{"type": "json_schema", "json_schema": {}}""", "missing_required_parameter")]
    public void A_json_schema_format_needs_a_name_openai_allows(string format, string code)
    {
        var error = RequestReaderTests.ErrorOf(() => Read(format));
        Assert.Equal(("response_format.json_schema.name", code), (error.Param, error.Code));
        Assert.Contains("'response_format.json_schema.name'", error.Message);
    }

    [Fact]
    public void A_named_json_schema_format_becomes_a_grammar() =>
        Assert.NotNull(Read("""{"type": "json_schema", "json_schema": {"name": "person_v2", "schema": {"type": "object"}}}"""));

    [Fact]
    public void An_unknown_type_is_named_by_its_parameter_in_the_message()
    {
        var error = RequestReaderTests.ErrorOf(() => Read("""{"type": "xml"}"""));
        Assert.Equal("response_format.type", error.Param);
        Assert.Contains("'response_format.type'", error.Message);
        Assert.Contains("'xml'", error.Message);
    }
}
