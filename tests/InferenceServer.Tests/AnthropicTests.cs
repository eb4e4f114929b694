using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>Anthropic's Messages API over HTTP: its error shape and statuses, its headers, its auth. The SDK's view is tests/js/protocols/anthropic.test.js.</summary>
[Collection(ProtocolServerCollection.Name)]
public class AnthropicTests(ProtocolServerFixture server)
{
    private static JsonObject Message(string model = ProtocolServerFixture.ModelId, int maxTokens = 4) => new()
    {
        ["model"] = model,
        ["max_tokens"] = maxTokens,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Once upon a time" }),
    };

    internal static async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> PostAsync(HttpClient client, string path, string body)
    {
        var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject(), response);
    }

    /// <summary>Anthropic's error: {"type": "error", "error": {"type", "message"}} and nothing else.</summary>
    internal static void AssertError(JsonObject body, string type)
    {
        Assert.Equal("error", (string)body["type"]!);
        Assert.Equal(type, (string)body["error"]!["type"]!);
        Assert.False(string.IsNullOrWhiteSpace((string)body["error"]!["message"]!));
        Assert.Equal(2, body["error"]!.AsObject().Count);
    }

    [Fact]
    public async Task A_tools_strict_flag_reaches_the_chat_pipeline_and_is_checked_there()
    {
        using var client = server.Plain();
        var request = Message();
        request["tools"] = JsonNode.Parse("""[{"name":"get_time","input_schema":{"type":"object"},"strict":"yes"}]""");
        var (status, body, _) = await PostAsync(client, "v1/messages", request.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error");
        Assert.Contains("tools[0].strict", (string)body["error"]!["message"]!);

        request["tools"]![0]!["strict"] = true;
        (status, _, _) = await PostAsync(client, "v1/messages", request.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Errors_have_anthropics_shape_and_status()
    {
        using var client = server.Plain();
        var (status, body, _) = await PostAsync(client, "v1/messages", Message("no-such-model").ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(body, "not_found_error");

        var missing = Message();
        missing.Remove("max_tokens");
        (status, body, _) = await PostAsync(client, "v1/messages", missing.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error");
        Assert.Contains("max_tokens", (string)body["error"]!["message"]!);

        (status, body, _) = await PostAsync(client, "v1/messages", "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error");

        var huge = Message();
        huge["messages"]![0]!["content"] = new string('a', ProtocolServerFixture.MaxBodyBytes);
        (status, body, _) = await PostAsync(client, "v1/messages", huge.ToJsonString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        AssertError(body, "request_too_large");

        (status, body, _) = await PostAsync(client, "v1/messages/nothing-here", Message().ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(body, "not_found_error");
    }

    [Fact]
    public async Task The_key_is_taken_from_x_api_key_or_a_bearer_token_and_a_wrong_one_is_a_401_authentication_error()
    {
        using var bearer = server.Plain(key: null);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ProtocolServerFixture.Key);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(bearer, "v1/messages", Message().ToJsonString())).Status);

        foreach (var key in new[] { null, "sk-wrong" })
        {
            using var client = server.Plain(key);
            var (status, body, _) = await PostAsync(client, "v1/messages", Message().ToJsonString());
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            AssertError(body, "authentication_error");
        }
    }

    [Fact]
    public async Task Anthropics_version_and_beta_headers_and_the_beta_query_are_accepted()
    {
        using var client = server.Plain();
        client.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        client.DefaultRequestHeaders.Add("anthropic-beta", "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14");
        var (status, body, _) = await PostAsync(client, "v1/messages?beta=true", Message().ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("message", (string)body["type"]!);
        (status, body, _) = await PostAsync(client, "v1/messages/count_tokens?beta=true", Message().ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((int)body["input_tokens"]! > 0);
    }

    [Fact]
    public async Task A_last_assistant_turn_is_continued()
    {
        using var client = server.Plain();
        var prefilled = Message(maxTokens: 6);
        prefilled["temperature"] = 0;
        prefilled["messages"]!.AsArray().Add(new JsonObject { ["role"] = "assistant", ["content"] = "The dog" });
        var (status, body, _) = await PostAsync(client, "v1/messages", prefilled.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        // Continued, not answered: the prompt ends inside the assistant's turn, so no end-of-turn marker opens a new one.
        var (_, counted, _) = await PostAsync(client, "v1/messages/count_tokens", prefilled.ToJsonString());
        var answered = Message();
        answered["messages"]!.AsArray().Add(new JsonObject { ["role"] = "assistant", ["content"] = "The dog" });
        answered["messages"]!.AsArray().Add(new JsonObject { ["role"] = "user", ["content"] = "More" });
        var (_, longer, _) = await PostAsync(client, "v1/messages/count_tokens", answered.ToJsonString());
        Assert.True((int)counted["input_tokens"]! < (int)longer["input_tokens"]!);
        Assert.Equal("text", (string)body["content"]![0]!["type"]!);
    }

    [Fact]
    public async Task HEAD_on_the_root_answers_200()
    {
        using var client = server.Plain(key: null);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

/// <summary>The queue full (one sequence busy, one waiting): Anthropic's 529 overloaded_error, Ollama's 429 with Retry-After.</summary>
[Collection(BusyServerCollection.Name)]
public class OverloadedProtocolTests(BusyServerFixture server)
{
    [Fact]
    public async Task A_full_queue_is_529_overloaded_for_anthropic_and_429_for_ollama()
    {
        using var client = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromMinutes(2) };
        server.Gate.Close();
        try
        {
            var running = client.PostAsync("v1/completions", new StringContent($$"""{"model":"{{ServerFixture.ModelId}}","prompt":"Once","max_tokens":4}""", Encoding.UTF8, "application/json"));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (server.Model.Engine.Snapshot.Running != 1)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first request never ran");
                await Task.Delay(10);
            }
            // The engine is held: of two more messages one takes the waiting place and the other is refused.
            var message = $$"""{"model":"{{ServerFixture.ModelId}}","max_tokens":4,"messages":[{"role":"user","content":"Once"}]}""";
            var next = new[] { AnthropicTests.PostAsync(client, "v1/messages", message), AnthropicTests.PostAsync(client, "v1/messages", message) };
            var refused = await await Task.WhenAny(next);
            var waiting = next.Single(t => !t.IsCompleted || !ReferenceEquals(t.Result.Response, refused.Response));
            Assert.Equal(529, (int)refused.Status);
            AnthropicTests.AssertError(refused.Body, "overloaded_error");
            Assert.NotNull(refused.Response.Headers.RetryAfter);

            // The waiting place is still taken.
            var (status, body, response) = await AnthropicTests.PostAsync(client, "api/chat", message);
            Assert.Equal(HttpStatusCode.TooManyRequests, status);
            Assert.Equal(["error"], body.Select(p => p.Key));
            Assert.NotNull(response.Headers.RetryAfter);
            server.Gate.Open();
            Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
            await waiting;
        }
        finally
        {
            server.Gate.Open();
        }
    }
}

/// <summary>A spent requests-per-minute window: Anthropic's 429 rate_limit_error with Retry-After.</summary>
[Collection(GuardedServerCollection.Name)]
public class RateLimitedProtocolTests(GuardedServerFixture server)
{
    [Fact]
    public async Task A_spent_rate_limit_is_429_rate_limit_error_with_retry_after()
    {
        using var client = new HttpClient { BaseAddress = server.BaseUrl };
        client.DefaultRequestHeaders.Add("x-api-key", GuardedServerFixture.SpareKeys[12]);
        var count = $$"""{"model":"{{ServerFixture.ModelId}}","messages":[{"role":"user","content":"Hi"}]}""";
        for (var i = 0; i < GuardedServerFixture.RequestsPerMinute; i++)
            Assert.Equal(HttpStatusCode.OK, (await AnthropicTests.PostAsync(client, "v1/messages/count_tokens", count)).Status);
        var (status, body, response) = await AnthropicTests.PostAsync(client, "v1/messages/count_tokens", count);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        AnthropicTests.AssertError(body, "rate_limit_error");
        Assert.True(response.Headers.RetryAfter!.Delta > TimeSpan.Zero);
    }
}

/// <summary>A template that thinks (DeepSeek-R1's): Anthropic's thinking blocks, whole and streamed.</summary>
[Collection(ThinkingServerCollection.Name)]
public class AnthropicThinkingTests(ThinkingServerFixture server)
{
    [Fact]
    public async Task Thinking_comes_back_as_a_thinking_block_whole_and_as_thinking_deltas_streamed()
    {
        using var client = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromMinutes(2) };
        var request = new JsonObject
        {
            ["model"] = ThinkingServerFixture.ModelId,
            ["max_tokens"] = 12,
            ["temperature"] = 0,
            ["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = 1024 },
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me about the park." }),
        };
        var (status, body, _) = await AnthropicTests.PostAsync(client, "v1/messages", request.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        // A story model never closes its thinking: all it writes is thinking.
        var block = body["content"]![0]!;
        Assert.Equal("thinking", (string)block["type"]!);
        var thinking = (string)block["thinking"]!;
        Assert.False(string.IsNullOrWhiteSpace(thinking));
        Assert.DoesNotContain("<think>", thinking);
        Assert.Equal("max_tokens", (string)body["stop_reason"]!);

        request["stream"] = true;
        using var response = await client.PostAsync("v1/messages", new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
        var events = (await response.Content.ReadAsStringAsync()).Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal))
            .Select(line => JsonNode.Parse(line[6..])!).ToList();
        Assert.Equal("thinking", (string)events.First(e => (string)e["type"]! == "content_block_start")["content_block"]!["type"]!);
        var streamed = string.Concat(events.Where(e => (string?)e["delta"]?["type"] == "thinking_delta").Select(e => (string)e["delta"]!["thinking"]!));
        Assert.Equal(thinking, streamed);
    }
}
