using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>A --batch-size below llama.cpp's 256 sequence ids (which once aborted the process at start).</summary>
public sealed class SmallBatchServerFixture : ServerFixture
{
    protected override string[] ExtraArgs => ["-b", "32", "-ub", "32"];
}

[CollectionDefinition(Name)]
public sealed class SmallBatchServerCollection : ICollectionFixture<SmallBatchServerFixture>
{
    public const string Name = "small batch server";
}

[Collection(SmallBatchServerCollection.Name)]
public class SmallBatchTests(SmallBatchServerFixture server)
{
    private async Task<JsonNode> Complete(string prompt)
    {
        using var response = await server.Http.PostAsJsonAsync("v1/completions", new { model = ServerFixture.ModelId, prompt, max_tokens = 8, temperature = 0 });
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return json;
    }

    [Fact]
    public async Task Sixteen_concurrent_requests_are_served_and_a_repeated_prompt_still_comes_from_the_prefix_cache()
    {
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Complete($"Once upon a time, a dog number {i} ran to the park.")));

        var prompt = "The little cat sat on the mat and looked at the big red ball in the garden.";
        await Complete(prompt);
        var again = await Complete(prompt);
        Assert.True((int)again["usage"]!["prompt_tokens_details"]!["cached_tokens"]! > 0, again.ToJsonString());
    }
}
