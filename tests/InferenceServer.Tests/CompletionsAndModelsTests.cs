using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>
/// Text completions over plain HTTP (the .NET SDK keeps its legacy completions client internal), and
/// models through the SDK.
/// </summary>
[Collection(ServerCollection.Name)]
public class CompletionsAndModelsTests(ServerFixture server)
{
    private async Task<JsonObject> PostJson(string path, object body)
    {
        using var response = await server.Http.PostAsJsonAsync(path, body);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return json;
    }

    private async Task<List<JsonObject>> PostStream(string path, object body)
    {
        using var response = await server.Http.PostAsJsonAsync(path, body);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');
        var data = lines.Where(l => l.StartsWith("data: ")).Select(l => l["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", data[^1]);
        return data[..^1].Select(d => JsonNode.Parse(d)!.AsObject()).ToList();
    }

    [Fact]
    public async Task A_text_completion_continues_the_prompt_greedily_and_streams_the_same_text()
    {
        var body = new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = 20, temperature = 0 };
        var whole = await PostJson("v1/completions", body);
        var chunks = await PostStream("v1/completions", new { body.model, body.prompt, body.max_tokens, body.temperature, stream = true, stream_options = new { include_usage = true } });

        Assert.Equal("text_completion", (string?)whole["object"]);
        var text = (string)whole["choices"]![0]!["text"]!;
        Assert.Equal("length", (string?)whole["choices"]![0]!["finish_reason"]);
        Assert.Equal(20, (int)whole["usage"]!["completion_tokens"]!);

        Assert.All(chunks, c => Assert.Equal((string?)chunks[0]["id"], (string?)c["id"]));
        Assert.All(chunks, c => Assert.Equal((long)chunks[0]["created"]!, (long)c["created"]!));
        var streamed = string.Concat(chunks.Where(c => c["choices"]!.AsArray().Count > 0).Select(c => (string)c["choices"]![0]!["text"]!));
        Assert.Equal(text, streamed);
        Assert.Equal("length", (string?)chunks[^2]["choices"]![0]!["finish_reason"]);
        Assert.Empty(chunks[^1]["choices"]!.AsArray());
        Assert.Equal(20, (int)chunks[^1]["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task A_prompt_array_yields_one_choice_per_prompt_with_summed_usage()
    {
        var single = await PostJson("v1/completions", new { model = ServerFixture.ModelId, prompt = "The dog ran", max_tokens = 8, temperature = 0 });
        var batch = await PostJson("v1/completions", new { model = ServerFixture.ModelId, prompt = new[] { "The dog ran", "A little bird" }, max_tokens = 8, temperature = 0 });

        var choices = batch["choices"]!.AsArray();
        Assert.Equal([0, 1], choices.Select(c => (int)c!["index"]!));
        Assert.Equal((string?)single["choices"]![0]!["text"], (string?)choices[0]!["text"]);
        Assert.Equal(16, (int)batch["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Streamed_chat_chunks_follow_openai_framing()
    {
        var chunks = await PostStream("v1/chat/completions", new
        {
            model = ServerFixture.ModelId, messages = new[] { new { role = "user", content = "Hi" } },
            max_tokens = 5, temperature = 0, stream = true, stream_options = new { include_usage = true },
        });

        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string?)c["object"]));
        Assert.Single(chunks.Select(c => (string?)c["id"]).Distinct());
        Assert.Equal("assistant", (string?)chunks[0]["choices"]![0]!["delta"]!["role"]);
        Assert.All(chunks.Skip(1), c => Assert.Null(c["choices"]!.AsArray().FirstOrDefault()?["delta"]?["role"]));
        Assert.Equal("length", (string?)chunks[^2]["choices"]![0]!["finish_reason"]);
        Assert.All(chunks[..^2], c => Assert.Null((string?)c["choices"]![0]!["finish_reason"]));
        Assert.Equal(5, (int)chunks[^1]["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Models_are_listed_and_fetched_through_the_sdk()
    {
        var models = server.OpenAI().GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value;
        Assert.Contains(list, m => m.Id == ServerFixture.ModelId);

        var model = (await models.GetModelAsync(ServerFixture.ModelId)).Value;
        Assert.Equal(ServerFixture.ModelId, model.Id);

        var missing = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-4o"));
        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task Health_answers_ok_once_the_model_is_loaded()
    {
        using var response = await server.Http.GetAsync("health");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
    }
}
