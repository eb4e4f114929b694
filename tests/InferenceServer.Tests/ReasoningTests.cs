using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>
/// A stories model behind DeepSeek-R1's thinking template (its prompt opens &lt;think&gt; when enable_thinking is on).
/// A story model never closes its thinking on its own: a grammar makes it write reasoning, &lt;/think&gt;, then an answer.
/// </summary>
public sealed class ThinkingServerFixture : ServerFixture
{
    public new const string ModelId = "stories260K-chatml";

    protected override string[] Args =>
        ["-m", TestFixtures.Model("stories260K-chatml.gguf"), "--chat-template", TestFixtures.ChatTemplate("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"),
         "--port", "0", "-np", "4", "-c", "4096", "-t", "1"];
}

[CollectionDefinition(Name)]
public sealed class ThinkingServerCollection : ICollectionFixture<ThinkingServerFixture>
{
    public const string Name = "thinking server";
}

[Collection(ThinkingServerCollection.Name)]
public class ReasoningTests(ThinkingServerFixture server)
{
    private const string ThinkThenAnswer = "root ::= [a-z ]{8,30} \"\\n</think>\\n\\n\" [a-z ]{8,30}";

    private static JsonObject Chat(int maxTokens = 80, bool stream = false) => new()
    {
        ["model"] = ThinkingServerFixture.ModelId,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me about the park." }),
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0,
        ["grammar"] = ThinkThenAnswer,
        ["chat_template_kwargs"] = new JsonObject { ["enable_thinking"] = true },
        ["stream"] = stream,
    };

    private async Task<JsonObject> PostAsync(string path, JsonObject body)
    {
        using var response = await server.Http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var json = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return json;
    }

    private async Task<List<JsonObject>> StreamAsync(string path, JsonObject body)
    {
        using var response = await server.Http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return text.Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal) && line != "data: [DONE]")
            .Select(line => JsonNode.Parse(line[6..])!.AsObject()).ToList();
    }

    [Fact]
    public async Task Chat_splits_reasoning_into_reasoning_content_and_streams_the_same_split()
    {
        var whole = await PostAsync("v1/chat/completions", Chat());
        var message = whole["choices"]![0]!["message"]!;
        var reasoning = (string)message["reasoning_content"]!;
        var content = (string)message["content"]!;
        Assert.Matches("^[a-z ]{8,30}$", reasoning.Trim());
        Assert.Matches("^[a-z ]{8,30}$", content);
        Assert.DoesNotContain("think>", reasoning + content);
        Assert.Equal(reasoning, (string)message["reasoning"]!);
        var reasoningTokens = (int)whole["usage"]!["completion_tokens_details"]!["reasoning_tokens"]!;
        Assert.InRange(reasoningTokens, 1, (int)whole["usage"]!["completion_tokens"]! - 1);

        var chunks = await StreamAsync("v1/chat/completions", Chat(stream: true));
        var deltas = chunks.Where(c => c["choices"]!.AsArray().Count > 0).Select(c => c["choices"]![0]!["delta"]!).ToList();
        var reasoningDeltas = deltas.Select(d => (string?)d["reasoning_content"]).Where(r => r is not null).ToList();
        Assert.True(reasoningDeltas.Count > 1, "reasoning arrived in one piece");
        Assert.Equal(reasoning, string.Concat(reasoningDeltas));
        Assert.Equal(reasoning, string.Concat(deltas.Select(d => (string?)d["reasoning"])));
        Assert.Equal(content, string.Concat(deltas.Select(d => (string?)d["content"])));
        // The answer starts only after the reasoning has ended.
        var firstAnswer = deltas.FindIndex(d => d["content"] is JsonValue v && ((string)v!).Length > 0);
        Assert.True(deltas.Skip(firstAnswer).All(d => d["reasoning_content"] is null));
    }

    [Fact]
    public async Task Reasoning_format_none_leaves_the_thinking_inline()
    {
        var body = Chat();
        body["reasoning_format"] = "none";
        var message = (await PostAsync("v1/chat/completions", body))["choices"]![0]!["message"]!.AsObject();
        Assert.Contains("\n</think>\n\n", (string)message["content"]!);
        Assert.False(message.ContainsKey("reasoning_content"));
    }

    [Fact]
    public async Task Max_completion_tokens_bounds_reasoning_and_answer_together()
    {
        var whole = await PostAsync("v1/chat/completions", Chat(maxTokens: 6));
        var choice = whole["choices"]![0]!;
        Assert.Equal("length", (string)choice["finish_reason"]!);
        Assert.Equal(6, (int)whole["usage"]!["completion_tokens"]!);
        Assert.NotEqual("", (string)choice["message"]!["reasoning_content"]!);
        Assert.Equal("", (string)choice["message"]!["content"]!);
    }

    [Fact]
    public async Task Responses_emit_a_reasoning_item_streamed_before_the_message()
    {
        var body = new JsonObject
        {
            ["model"] = ThinkingServerFixture.ModelId, ["input"] = "Tell me about the park.", ["max_output_tokens"] = 12, ["temperature"] = 0,
            ["reasoning"] = new JsonObject { ["effort"] = "high" },
        };
        var whole = await PostAsync("v1/responses", body);
        var output = whole["output"]!.AsArray();
        Assert.Equal(["reasoning", "message"], output.Select(item => (string)item!["type"]!));
        var reasoning = (string)output[0]!["content"]![0]!["text"]!;
        Assert.NotEqual("", reasoning);
        Assert.Equal("", (string)output[1]!["content"]![0]!["text"]!);
        Assert.InRange((int)whole["usage"]!["output_tokens_details"]!["reasoning_tokens"]!, 1, 12);

        body["stream"] = true;
        var events = await StreamAsync("v1/responses", body);
        var deltas = events.Where(e => (string)e["type"]! == "response.reasoning_text.delta").Select(e => (string)e["delta"]!).ToList();
        Assert.True(deltas.Count > 1);
        Assert.Equal(reasoning, string.Concat(deltas));
        Assert.Equal(reasoning, (string)events.Single(e => (string)e["type"]! == "response.reasoning_text.done")["text"]!);

        // Effort "none" turns the template's thinking off: no reasoning item.
        body["stream"] = false;
        body["reasoning"] = new JsonObject { ["effort"] = "none" };
        Assert.Equal(["message"], (await PostAsync("v1/responses", body))["output"]!.AsArray().Select(item => (string)item!["type"]!));
    }
}
