using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>Sampling parameters change the output the way OpenAI's and vLLM's documentation say.</summary>
[Collection(ServerCollection.Name)]
public class SamplingTests(ServerFixture server)
{
    private const string Prompt = "Once upon a time";

    private async Task<string> Complete(object extra)
    {
        var body = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject();
        body["model"] = ServerFixture.ModelId;
        body["prompt"] = Prompt;
        body["max_tokens"] ??= 40;
        using var response = await server.Http.PostAsJsonAsync("v1/completions", body);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return (string)json["choices"]![0]!["text"]!;
    }

    [Fact]
    public async Task Top_k_of_one_is_greedy_whatever_the_temperature_and_seed()
    {
        var greedy = await Complete(new { temperature = 0 });
        Assert.Equal(greedy, await Complete(new { temperature = 1.5, top_k = 1, seed = 1 }));
        Assert.Equal(greedy, await Complete(new { temperature = 1.5, top_k = 1, seed = 2 }));
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_sample_and_another_seed_another()
    {
        var first = await Complete(new { temperature = 1, seed = 42 });
        Assert.Equal(first, await Complete(new { temperature = 1, seed = 42 }));
        var others = new[] { await Complete(new { temperature = 1, seed = 43 }), await Complete(new { temperature = 1, seed = 44 }) };
        Assert.Contains(others, o => o != first);
    }

    [Fact]
    public async Task A_logit_bias_of_100_forces_a_token_and_minus_100_bans_it()
    {
        var dog = server.Model.Tokenizer.Tokenize(" dog", addBos: false, parseSpecial: false)[^1];
        var forced = await Complete(new { temperature = 0, max_tokens = 5, logit_bias = new Dictionary<string, int> { [dog.ToString()] = 100 } });
        Assert.Equal(server.Model.Tokenizer.Detokenize([dog, dog, dog, dog, dog]), forced);

        var greedy = await Complete(new { temperature = 0, max_tokens = 1 });
        var greedyToken = Enumerable.Range(0, server.Model.Tokenizer.VocabularySize).Single(id => System.Text.Encoding.UTF8.GetString(server.Model.Tokenizer.PieceBytes(id)) == greedy);
        var banned = await Complete(new { temperature = 0, max_tokens = 1, logit_bias = new Dictionary<string, int> { [greedyToken.ToString()] = -100 } });
        Assert.NotEqual(greedy, banned);
    }

    [Fact]
    public async Task Penalties_change_a_repetitive_greedy_answer()
    {
        var plain = await Complete(new { temperature = 0, max_tokens = 80 });
        Assert.NotEqual(plain, await Complete(new { temperature = 0, max_tokens = 80, frequency_penalty = 2 }));
        Assert.NotEqual(plain, await Complete(new { temperature = 0, max_tokens = 80, repetition_penalty = 1.5 }));
    }

    [Theory]
    [InlineData("top_k", "-2")]
    [InlineData("min_p", "1.5")]
    [InlineData("frequency_penalty", "3")]
    [InlineData("presence_penalty", "-2.5")]
    [InlineData("repetition_penalty", "0")]
    [InlineData("logit_bias", "{\"99999\": 5}")]
    [InlineData("logit_bias", "{\"abc\": 5}")]
    [InlineData("logit_bias", "{\"5\": 101}")]
    [InlineData("logit_bias", "[1]")]
    public async Task Out_of_range_sampling_values_are_a_400_naming_the_parameter(string name, string value)
    {
        var body = $$"""{"model":"{{ServerFixture.ModelId}}","prompt":"Hi","{{name}}":{{value}}}""";
        using var response = await server.Http.PostAsync("v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(400, (int)response.StatusCode);
        Assert.StartsWith(name, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["param"]);
    }
}
