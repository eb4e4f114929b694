using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>API keys, per-key rate limits and request limits on the real server.</summary>
[Collection(GuardedServerCollection.Name)]
public class AuthAndLimitsTests(GuardedServerFixture server)
{
    private async Task<(HttpStatusCode Status, JsonNode? Error, HttpResponseMessage Response)> Post(string path, object body, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await server.Http.SendAsync(request);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json?["error"], response);
    }

    private async Task<HttpStatusCode> Delete(string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await server.Http.SendAsync(request);
        return response.StatusCode;
    }

    private static object Chat(string content, int maxTokens = 5) =>
        new { model = ServerFixture.ModelId, messages = new[] { new { role = "user", content } }, max_tokens = maxTokens };

    [Fact]
    public async Task The_sdk_without_the_right_key_is_refused_and_with_it_is_served()
    {
        var refused = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.OpenAI(apiKey: "sk-wrong").GetChatClient(ServerFixture.ModelId).CompleteChatAsync([new UserChatMessage("Hi")]));
        Assert.Equal(401, refused.Status);
        Assert.Contains("invalid_api_key", refused.Message);

        ChatCompletion served = await server.OpenAI(apiKey: GuardedServerFixture.Key).GetChatClient(ServerFixture.ModelId)
            .CompleteChatAsync([new UserChatMessage("Tell me a story.")], new ChatCompletionOptions { MaxOutputTokenCount = 5 });
        Assert.Equal(5, served.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Every_v1_route_needs_a_key_in_openai_error_shape_while_health_and_ready_stay_open()
    {
        foreach (var path in new[] { "v1/models", "v1/models/" + ServerFixture.ModelId })
        {
            using var response = await server.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal("invalid_request_error", (string)error["type"]!);
            Assert.Equal("missing_api_key", (string)error["code"]!);
        }
        var (status, wrong, _) = await Post("v1/completions", new { model = ServerFixture.ModelId, prompt = "Hi" }, "sk-test-first-but-longer");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", (string)wrong!["code"]!);

        foreach (var open in new[] { "health", "ready" })
            Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync(open)).StatusCode);
    }

    [Fact]
    public async Task Metrics_need_the_metrics_key_or_an_admin_key_and_an_api_key_is_not_enough()
    {
        async Task<(HttpStatusCode, string)> Scrape(string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
            if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await server.Http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var (missing, missingBody) = await Scrape(null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing);
        Assert.Equal("missing_api_key", (string?)JsonNode.Parse(missingBody)!["error"]!["code"]);
        var (apiKey, apiKeyBody) = await Scrape(GuardedServerFixture.Key);
        Assert.Equal(HttpStatusCode.Unauthorized, apiKey);
        Assert.Equal("invalid_api_key", (string?)JsonNode.Parse(apiKeyBody)!["error"]!["code"]);
        foreach (var key in new[] { GuardedServerFixture.MetricsKey, GuardedServerFixture.AdminKey })
        {
            var (status, text) = await Scrape(key);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("# TYPE ", text);
        }
    }

    [Fact]
    public async Task A_key_from_the_key_file_is_accepted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GuardedServerFixture.FileKey);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Requests_beyond_the_per_minute_limit_get_429_with_retry_after_and_other_keys_are_unaffected()
    {
        var key = GuardedServerFixture.SpareKeys[0];
        for (var i = 0; i < GuardedServerFixture.RequestsPerMinute; i++)
            Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", Chat("Hi"), key)).Status);

        var (status, error, response) = await Post("v1/chat/completions", Chat("Hi"), key);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("rate_limit_exceeded", (string)error!["code"]!);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);

        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", Chat("Hi"), GuardedServerFixture.SpareKeys[1])).Status);
    }

    [Fact]
    public async Task Tokens_beyond_the_per_minute_limit_get_429_with_retry_after()
    {
        var key = GuardedServerFixture.SpareKeys[2];
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", Chat("Hi", 100), key)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/chat/completions", Chat("Hi", 100), key)).Status);
        var (status, error, response) = await Post("v1/chat/completions", Chat("Hi", 100), key);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("tokens", (string)error!["message"]!);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Only_an_admin_key_loads_and_unloads_adapters_and_it_also_serves_requests()
    {
        var key = GuardedServerFixture.SpareKeys[9];
        var path = TestAdapters.Write("admin-test", 4);
        var load = new { model = ServerFixture.ModelId, name = "admin-test", path };
        var (status, error, _) = await Post("v1/adapters", load, key);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("admin_key_required", (string)error!["code"]!);

        Assert.Equal(HttpStatusCode.Created, (await Post("v1/adapters", load, GuardedServerFixture.AdminKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/completions",
            new { model = $"{ServerFixture.ModelId}:admin-test", prompt = "Hi", max_tokens = 2 }, key)).Status);

        Assert.Equal(HttpStatusCode.Forbidden, await Delete("v1/adapters/admin-test", key));
        Assert.Equal(HttpStatusCode.OK, await Delete("v1/adapters/admin-test", GuardedServerFixture.AdminKey));
    }

    [Fact]
    public async Task Embedding_inputs_count_against_the_tokens_per_minute_limit()
    {
        var key = GuardedServerFixture.SpareKeys[8];
        var input = Enumerable.Repeat(100, 120).ToArray();
        var body = new { model = ServerFixture.ModelId, input };
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/embeddings", body, key)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Post("v1/embeddings", body, key)).Status);
        var (status, error, _) = await Post("v1/embeddings", body, key);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("tokens", (string)error!["message"]!);
    }

    [Fact]
    public async Task A_body_larger_than_the_limit_gets_413()
    {
        var (status, error, _) = await Post("v1/chat/completions", Chat(new string('a', 5000)), GuardedServerFixture.SpareKeys[3]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("request_too_large", (string)error!["code"]!);
    }

    [Fact]
    public async Task Too_many_messages_a_too_long_prompt_and_a_too_large_max_tokens_each_get_400()
    {
        var key = GuardedServerFixture.SpareKeys[4];
        var messages = Enumerable.Repeat(new { role = "user", content = "Hi" }, 4).ToArray();
        var (status, error, _) = await Post("v1/chat/completions", new { model = ServerFixture.ModelId, messages, max_tokens = 5 }, key);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("too_many_messages", (string)error!["code"]!);

        (status, error, _) = await Post("v1/completions", new { model = ServerFixture.ModelId, prompt = string.Join(" ", Enumerable.Repeat("the dog", 40)) },
            GuardedServerFixture.SpareKeys[5]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("prompt_too_long", (string)error!["code"]!);

        (status, error, _) = await Post("v1/completions", new { model = ServerFixture.ModelId, prompt = "Hi", max_tokens = 101 }, GuardedServerFixture.SpareKeys[6]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("max_tokens", (string)error!["param"]!);
    }

    [Fact]
    public async Task An_absent_max_tokens_is_capped_at_the_completion_limit()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = ServerFixture.ModelId, messages = new[] { new { role = "user", content = "Hi" } } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GuardedServerFixture.SpareKeys[7]);
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var usage = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["usage"]!;
        Assert.InRange((int)usage["completion_tokens"]!, 1, 100);
    }

    [Fact]
    public async Task A_stored_response_is_visible_only_to_the_key_that_created_it()
    {
        var (owner, other) = (GuardedServerFixture.SpareKeys[10], GuardedServerFixture.SpareKeys[11]);
        var (status, _, created) = await Post("v1/responses", new { model = ServerFixture.ModelId, input = "Hi", max_output_tokens = 4 }, owner);
        Assert.Equal(HttpStatusCode.OK, status);
        var id = (string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;

        async Task<HttpStatusCode> Get(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/responses/{id}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await server.Http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.NotFound, await Get(other));
        (status, var error, _) = await Post("v1/responses", new { model = ServerFixture.ModelId, input = "More", previous_response_id = id }, other);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("previous_response_id", (string?)error!["param"]);
        Assert.Equal(HttpStatusCode.OK, await Get(owner));
    }
}
