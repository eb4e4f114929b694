using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>Ollama's API over HTTP as curl and hand-written clients use it: content types, NDJSON, error shapes. The ollama npm package's view is tests/js/protocols/ollama.test.js.</summary>
[Collection(ProtocolServerCollection.Name)]
public class OllamaTests(ProtocolServerFixture server)
{
    private const string Model = ProtocolServerFixture.ModelId;

    /// <summary>Posts as Ollama's own docs do (curl -d): the Content-Type says form, the body is JSON.</summary>
    private static async Task<(HttpStatusCode Status, string Text, HttpResponseMessage Response)> CurlAsync(HttpClient client, string path, string body)
    {
        var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static void AssertError(string text, string contains)
    {
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(["error"], body.Select(p => p.Key));
        Assert.Contains(contains, (string)body["error"]!);
    }

    [Fact]
    public async Task Chat_streams_ndjson_by_default_even_when_curl_calls_the_body_a_form()
    {
        using var client = server.Plain();
        var (status, text, response) = await CurlAsync(client, "api/chat", $$$"""{"model":"{{{Model}}}","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":5}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        Assert.True(lines.Count >= 2);
        Assert.All(lines[..^1], line => Assert.False((bool)line["done"]!));
        Assert.True((bool)lines[^1]["done"]!);
        Assert.Equal("length", (string)lines[^1]["done_reason"]!);
        Assert.Equal(5, (int)lines[^1]["eval_count"]!);
    }

    [Fact]
    public async Task A_request_without_messages_or_prompt_loads_the_model_and_generates_nothing()
    {
        using var client = server.Plain();
        foreach (var (path, body) in new[] { ("api/chat", $$"""{"model":"{{Model}}","messages":[]}"""), ("api/generate", $$"""{"model":"{{Model}}"}""") })
        {
            var (status, text, _) = await CurlAsync(client, path, body);
            Assert.Equal(HttpStatusCode.OK, status);
            var reply = JsonNode.Parse(text)!;
            Assert.True((bool)reply["done"]!);
            Assert.Equal("load", (string)reply["done_reason"]!);
        }
    }

    [Fact]
    public async Task Errors_are_ollamas_shape_with_the_status()
    {
        using var client = server.Plain();
        var cases = new (string Path, string Body, HttpStatusCode Status, string Contains)[]
        {
            ("api/chat", $$"""{"model":"nope","messages":[{"role":"user","content":"Hi"}]}""", HttpStatusCode.NotFound, "nope"),
            ("api/chat", $$$"""{"model":"{{{Model}}}","messages":[{"role":"user","content":"Hi"}],"options":{"temperature":"hot"}}""", HttpStatusCode.BadRequest, "options.temperature"),
            ("api/chat", $$$"""{"model":"{{{Model}}}","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":0}}""", HttpStatusCode.BadRequest, "options.num_predict"),
            ("api/chat", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Hi"}],"format":"yaml"}""", HttpStatusCode.BadRequest, "format"),
            ("api/chat", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"Hi"}],"keep_alive":"soon"}""", HttpStatusCode.BadRequest, "keep_alive"),
            ("api/generate", $$"""{"model":"{{Model}}","prompt":"def f(","suffix":"return 1"}""", HttpStatusCode.BadRequest, "suffix"),
            ("api/generate", $$"""{"model":"{{Model}}","prompt":"Hi","images":["aGk="]}""", HttpStatusCode.BadRequest, "images"),
            ("api/generate", "[1, 2]", HttpStatusCode.BadRequest, "JSON object"),
            ("api/create", $$"""{"model":"mine","from":"{{Model}}"}""", HttpStatusCode.NotImplemented, "not supported"),
            ("api/nothing-here", "{}", HttpStatusCode.NotFound, "Unknown route"),
            ("api/chat", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"{{new string('a', ProtocolServerFixture.MaxBodyBytes)}}"}]}""", HttpStatusCode.RequestEntityTooLarge, "too large"),
        };
        foreach (var (path, body, status, contains) in cases)
        {
            var (actual, text, _) = await CurlAsync(client, path, body);
            Assert.True(status == actual, $"{path} {body[..Math.Min(body.Length, 120)]}: {(int)actual} {text}");
            AssertError(text, contains);
        }

        using var anonymous = server.Plain(key: null);
        var (unauthorized, error, _) = await CurlAsync(anonymous, "api/chat", $$"""{"model":"{{Model}}","messages":[]}""");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized);
        AssertError(error, "API key");
    }
}

/// <summary>A template that thinks (DeepSeek-R1's): Ollama's think gives message.thinking, apart from the content.</summary>
[Collection(ThinkingServerCollection.Name)]
public class OllamaThinkingTests(ThinkingServerFixture server)
{
    [Fact]
    public async Task Think_puts_the_thinking_in_message_thinking_whole_and_streamed()
    {
        using var client = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromMinutes(2) };
        var request = $$"""{"model":"{{ThinkingServerFixture.ModelId}}","think":true,"messages":[{"role":"user","content":"Tell me about the park."}],"options":{"num_predict":10,"temperature":0}""";
        using var whole = await client.PostAsync("api/chat", new StringContent(request + ""","stream":false}""", Encoding.UTF8, "application/json"));
        var message = JsonNode.Parse(await whole.Content.ReadAsStringAsync())!["message"]!;
        var thinking = (string)message["thinking"]!;
        Assert.False(string.IsNullOrWhiteSpace(thinking));
        Assert.Equal("", (string)message["content"]!);
        Assert.DoesNotContain("<think>", thinking);

        using var streamed = await client.PostAsync("api/chat", new StringContent(request + "}", Encoding.UTF8, "application/json"));
        var lines = (await streamed.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        Assert.Equal(thinking, string.Concat(lines.Select(line => (string?)line["message"]!["thinking"] ?? "")));
    }
}
