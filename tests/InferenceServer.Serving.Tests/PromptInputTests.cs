using System.Text.Json.Nodes;
using InferenceServer.Api;

namespace InferenceServer.Serving.Tests;

/// <summary>A completion's prompt in each shape OpenAI accepts, and token ids checked against the vocabulary before llama.cpp reads them.</summary>
public sealed class PromptInputTests
{
    private const int Vocabulary = 100;

    private static List<PromptInput> Read(string json) =>
        PromptInput.Read(new RequestReader(JsonNode.Parse(json)!.AsObject()), "prompt", maxItems: 3, Vocabulary);

    [Fact]
    public void A_string_strings_token_ids_and_arrays_of_token_ids_are_all_prompts()
    {
        Assert.Equal("Once", Assert.Single(Read("""{"prompt": "Once"}""")).Text);
        Assert.Equal(["a", "b"], Read("""{"prompt": ["a", "b"]}""").Select(p => p.Text));
        Assert.Equal([1, 2, 99], Assert.Single(Read("""{"prompt": [1, 2, 99]}""")).Tokens!);
        var batch = Read("""{"prompt": [[1], "text", [2, 3]]}""");
        Assert.Equal([1], batch[0].Tokens!);
        Assert.Equal("text", batch[1].Text);
        Assert.Equal([2, 3], batch[2].Tokens!);
    }

    [Theory]
    [InlineData("""{}""", "prompt", "missing_required_parameter")]
    [InlineData("""{"prompt": []}""", "prompt", "invalid_value")]
    [InlineData("""{"prompt": 5}""", "prompt", "invalid_type")]
    [InlineData("""{"prompt": ["a", "b", "c", "d"]}""", "prompt", "invalid_value")]
    [InlineData("""{"prompt": [1, 100]}""", "prompt[1]", "invalid_value")]
    [InlineData("""{"prompt": [-1]}""", "prompt[0]", "invalid_value")]
    [InlineData("""{"prompt": ["a", [5, 100]]}""", "prompt[1][1]", "invalid_value")]
    [InlineData("""{"prompt": ["a", []]}""", "prompt[1]", "invalid_type")]
    [InlineData("""{"prompt": ["a", {"text": "b"}]}""", "prompt[1]", "invalid_type")]
    public void A_prompt_of_no_accepted_shape_or_an_id_the_model_lacks_is_a_400_naming_it(string json, string param, string code)
    {
        var error = RequestReaderTests.ErrorOf(() => Read(json));
        Assert.Equal((param, code), (error.Param, error.Code));
    }
}
