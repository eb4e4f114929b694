using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>Malformed requests get OpenAI-shaped 4xx errors, and the server keeps serving.</summary>
[Collection(ServerCollection.Name)]
public class BadInputTests(ServerFixture server)
{
    private const string Model = ServerFixture.ModelId;
    private const string Chat = "v1/chat/completions";
    private const string Text = "v1/completions";

    /// <summary>(method, path, content type, body, expected status, expected param or null).</summary>
    public static TheoryData<string, string, string?, string, int, string?> Cases()
    {
        var data = new TheoryData<string, string, string?, string, int, string?>();
        void Json(string path, string body, int status = 400, string? param = null) => data.Add("POST", path, "application/json", body, status, param);
        var msgs = """[{"role":"user","content":"Hi"}]""";

        // Not JSON, or not an object.
        Json(Chat, "{", 400);
        Json(Chat, "not json", 400);
        Json(Chat, "", 400);
        Json(Chat, "[1,2]", 400);
        Json(Chat, "\"text\"", 400);
        Json(Chat, "null", 400);
        Json(Text, "{\"model\":", 400);
        // Missing or mistyped fields.
        Json(Chat, $$"""{"messages":{{msgs}}}""", 400, "model");
        Json(Chat, $$"""{"model":42,"messages":{{msgs}}}""", 400, "model");
        Json(Chat, $$"""{"model":"{{Model}}"}""", 400, "messages");
        Json(Chat, $$"""{"model":"{{Model}}","messages":"Hi"}""", 400, "messages");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[]}""", 400, "messages");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[42]}""", 400, "messages[0]");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"content":"Hi"}]}""", 400, "messages[0].role");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"wizard","content":"Hi"}]}""", 400, "messages[0].role");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"user"}]}""", 400, "messages[0].content");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"user","content":7}]}""", 400, "messages[0].content");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", 400, "messages[0].content[0].type");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"user","content":[{"type":"text"}]}]}""", 400, "messages[0].content[0].text");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"tool","content":"x"}]}""", 400, "messages[0].tool_call_id");
        // Tools: malformed, or described (TinyStories' fallback ChatML renders no tools) in JSON that TinyStories' vocabulary cannot spell.
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"tools":{}}""", 400, "tools");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"tools":[{"type":"function","function":{"name":"a b"}}]}""", 400, "tools[0].function.name");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"tool_choice":"required"}""", 400, "tool_choice");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}""", 400, "tool_choice");
        Json(Chat, $$$$$"""{"model":"{{{{{Model}}}}}","messages":{{{{{msgs}}}}},"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", 400, "tool_choice");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"tools":[{"type":"function","function":{"name":"f"}}]}""", 400, "messages");
        // Out-of-range and mistyped parameters.
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"temperature":-1}""", 400, "temperature");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"temperature":2.5}""", 400, "temperature");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"temperature":"hot"}""", 400, "temperature");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"top_p":0}""", 400, "top_p");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"top_p":1.5}""", 400, "top_p");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"max_tokens":0}""", 400, "max_tokens");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"max_tokens":-5}""", 400, "max_tokens");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"max_tokens":1.5}""", 400, "max_tokens");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"max_completion_tokens":"ten"}""", 400, "max_completion_tokens");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"max_tokens":100000}""", 400, "messages");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"seed":"abc"}""", 400, "seed");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"stream":"yes"}""", 400, "stream");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"stream_options":{"include_usage":true}}""", 400, "stream_options");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"stop":["a","b","c","d","e"]}""", 400, "stop");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"stop":[1]}""", 400, "stop");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"stop":""}""", 400, "stop");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"n":0}""", 400, "n");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"n":129}""", 400, "n");
        Json(Chat, $$$"""{"model":"{{{Model}}}","messages":{{{msgs}}},"response_format":{"type":"json_object"}}""", 400, "response_format");
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"{\"a\": [1]}"}]}""", 400, "messages");
        Json(Text, $$"""{"model":"{{Model}}"}""", 400, "prompt");
        Json(Text, $$"""{"model":"{{Model}}","prompt":[]}""", 400, "prompt");
        Json(Text, $$"""{"model":"{{Model}}","prompt":[1,-2,3]}""", 400, "prompt[1]");
        Json(Text, $$"""{"model":"{{Model}}","prompt":"Hi","temperature":1,"temperature":0}""", 400, null);
        Json(Chat, $$"""{"model":"{{Model}}","messages":[{"role":"user","role":"system","content":"Hi"}]}""", 400, null);
        Json(Text, $$"""{"model":"{{Model}}","prompt":[[5],[99999999]]}""", 400, "prompt[1][0]");
        Json(Text, $$"""{"model":"{{Model}}","prompt":"Hi","logprobs":6}""", 400, "logprobs");
        Json(Text, $$"""{"model":"{{Model}}","prompt":"Hi","echo":"yes"}""", 400, "echo");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"logprobs":true,"top_logprobs":21}""", 400, "top_logprobs");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"top_logprobs":2}""", 400, "top_logprobs");
        Json(Chat, $$"""{"model":"{{Model}}","messages":{{msgs}},"logprobs":3}""", 400, "logprobs");
        Json(Text, $$$"""{"model":"{{{Model}}}","prompt":{"x":1}}""", 400, "prompt");
        Json(Text, $$"""{"model":"{{Model}}","prompt":"Hi","max_tokens":0}""", 400, "max_tokens");
        Json(Text, $$"""{"model":"{{Model}}","prompt":["ok","caf\u00e9"]}""", 400, "prompt[1]");
        // Unknown model, route and method; wrong media type.
        Json(Chat, $$"""{"model":"gpt-4o","messages":{{msgs}}}""", 404, "model");
        data.Add("POST", "v1/nothing-here", "application/json", "{}", 404, null);
        data.Add("GET", Chat, null, "", 405, null);
        data.Add("POST", Chat, "text/plain", $$"""{"model":"{{Model}}","messages":{{msgs}}}""", 415, null);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_requests_get_an_openai_error_and_the_server_keeps_serving(
        string method, string path, string? contentType, string body, int status, string? param)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = new StringContent(body, Encoding.UTF8, contentType ?? "application/json");
        using var response = await server.Http.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.AsObject();
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.False(string.IsNullOrWhiteSpace((string?)error["type"]));
        Assert.True(error.ContainsKey("param") && error.ContainsKey("code"), error.ToJsonString());
        if (param is not null) Assert.Equal(param, (string?)error["param"]);

        using var ok = await server.Http.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public void There_are_at_least_fifty_malformed_cases() => Assert.True(Cases().Count() >= 50, $"{Cases().Count()} cases");
}
