using System.Text.Json.Nodes;
using InferenceServer.Api;

namespace InferenceServer.Serving.Tests;

/// <summary>Every field problem is a 400 invalid_request_error naming the parameter, as OpenAI answers.</summary>
public sealed class RequestReaderTests
{
    private static RequestReader Reader(string json) => new(JsonNode.Parse(json)!.AsObject());

    /// <summary>The error a read throws, checked for the OpenAI shape every field error shares.</summary>
    internal static ApiError ErrorOf(Action read)
    {
        var error = Assert.Throws<ApiException>(read).Error;
        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", error.Type);
        return error;
    }

    [Fact]
    public void A_missing_required_string_names_the_parameter()
    {
        var error = ErrorOf(() => Reader("{}").RequiredString("model"));
        Assert.Equal(("model", "missing_required_parameter"), (error.Param, error.Code));
        Assert.Contains("'model'", error.Message);
    }

    [Theory]
    [InlineData("""{"x": 1}""", "string", "expected a string, but got a number")]
    [InlineData("""{"x": "yes"}""", "bool", "expected a boolean, but got a string")]
    [InlineData("""{"x": true}""", "number", "expected a number, but got a boolean")]
    [InlineData("""{"x": [1]}""", "integer", "expected an integer, but got an array")]
    [InlineData("""{"x": 1.5}""", "integer", "expected an integer, but got a number")]
    [InlineData("""{"x": {}}""", "string", "expected a string, but got an object")]
    public void A_value_of_the_wrong_type_says_what_was_expected_and_what_came(string json, string kind, string message)
    {
        var reader = Reader(json);
        Action read = kind switch
        {
            "string" => () => reader.OptionalString("x"),
            "bool" => () => reader.OptionalBool("x"),
            "number" => () => reader.OptionalNumber("x", 0, 10),
            _ => () => reader.OptionalInteger("x", 0, 10),
        };
        var error = ErrorOf(read);
        Assert.Equal(("x", "invalid_type"), (error.Param, error.Code));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Null_counts_as_absent()
    {
        var reader = Reader("""{"s": null, "b": null, "n": null, "i": null}""");
        Assert.Null(reader.OptionalString("s"));
        Assert.Null(reader.OptionalBool("b"));
        Assert.Null(reader.OptionalNumber("n", 0, 1));
        Assert.Null(reader.OptionalInteger("i", 0, 1));
        Assert.Equal("missing_required_parameter", ErrorOf(() => reader.RequiredString("s")).Code);
    }

    [Theory]
    [InlineData("""{"x": 2.01}""")]
    [InlineData("""{"x": -0.5}""")]
    public void A_number_out_of_range_gives_the_range(string json)
    {
        var error = ErrorOf(() => Reader(json).OptionalNumber("x", 0, 2));
        Assert.Equal(("x", "invalid_value"), (error.Param, error.Code));
        Assert.Contains("expected a number from 0 to 2", error.Message);
    }

    [Fact]
    public void Integers_may_be_written_as_whole_floats_and_huge_ones_are_out_of_range_not_wrapped()
    {
        Assert.Equal(3, Reader("""{"x": 3.0}""").OptionalInteger("x", 0, 10));
        Assert.Equal(10, Reader("""{"x": 10}""").OptionalInteger("x", 0, 10));
        Assert.Equal("invalid_value", ErrorOf(() => Reader("""{"x": 1e30}""").OptionalInteger("x", 0, 10)).Code);
        Assert.Equal("invalid_value", ErrorOf(() => Reader("""{"x": -1e30}""").OptionalInteger("x", 0, 10)).Code);
        Assert.Equal("invalid_value", ErrorOf(() => Reader("""{"x": 11}""").OptionalInteger("x", 0, 10)).Code);
    }

    [Fact]
    public void A_nested_field_is_named_by_its_whole_path()
    {
        var message = Reader("""{"role": 7}""");
        var error = ErrorOf(() => RequestReader.Within("messages[2]", () => message.RequiredString("role")));
        Assert.Equal("messages[2].role", error.Param);
        Assert.Contains("'messages[2].role'", error.Message);

        // A path already complete is left alone rather than prefixed twice.
        var nested = ErrorOf(() => RequestReader.Within("messages[2]", () =>
            RequestReader.Within("messages[2].content[0]", () => new RequestReader(new JsonObject()).RequiredString("text"))));
        Assert.Equal("messages[2].content[0].text", nested.Param);
    }

    [Theory]
    [InlineData("""{"name": "get_weather-2"}""", null)]
    [InlineData("""{"name": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}""", null)]
    [InlineData("""{}""", "missing_required_parameter")]
    [InlineData("""{"name": 3}""", "invalid_type")]
    [InlineData("""{"name": ""}""", "invalid_value")]
    [InlineData("""{"name": "bad name!"}""", "invalid_value")]
    [InlineData("""{"name": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}""", "invalid_value")]
    [InlineData("""{"name": "caf\u00e9"}""", "invalid_value")]
    public void A_name_is_1_to_64_letters_digits_underscores_or_dashes_as_openai_requires(string json, string? code)
    {
        var reader = Reader(json);
        if (code is null)
        {
            Assert.Equal(reader.Get("name")!.GetValue<string>(), reader.RequiredName("name"));
            return;
        }
        var error = ErrorOf(() => RequestReader.Within("response_format.json_schema", () => reader.RequiredName("name")));
        Assert.Equal(("response_format.json_schema.name", code), (error.Param, error.Code));
        Assert.Contains("'response_format.json_schema.name'", error.Message);
    }
}
