using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests.Hostile;

/// <summary>Each client mistake of issue 18, one by one over a raw socket: a 4xx with OpenAI's error body, never a 5xx, an empty body or a reset.</summary>
[Collection(HostileServerCollection.Name)]
public sealed class ProtocolErrorTests(HostileServerFixture server)
{
    private static string Chat(string content, string extra = "") =>
        $$"""{"model":"{{ServerFixture.ModelId}}","max_tokens":4,"messages":[{"role":"user","content":"{{content}}"}]{{extra}}}""";

    private static byte[] Post(byte[] body, string contentType = "application/json") =>
        [.. Encoding.ASCII.GetBytes($"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];

    private async Task<(int Status, JsonNode Error)> ErrorOf(byte[] request)
    {
        var reply = await RawHttp.ExchangeAsync(server.BaseUrl, request, TimeSpan.FromSeconds(60));
        Assert.Null(reply.WireProblem);
        OpenAiSchemas.AssertValid("ErrorResponse", reply.Text);
        return (reply.Status, JsonNode.Parse(reply.Body)!["error"]!);
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_a_400()
    {
        var json = Encoding.UTF8.GetBytes(Chat("hi @"));
        var at = Array.IndexOf(json, (byte)'@');
        var (status, error) = await ErrorOf(Post([.. json[..at], 0xc0, 0xaf, .. json[(at + 1)..]]));
        Assert.Equal(400, status);
        Assert.Equal("invalid_encoding", (string?)error["code"]);
    }

    [Theory]
    [InlineData(@"{""model"":""m"",""messages"":[{""role"":""user"",""content"":""hi \ud800""}]}", "messages[0].content")]
    [InlineData(@"{""model"":""\udc00"",""messages"":[]}", "model")]
    [InlineData(@"{""\ud800"":1}", null)]
    public async Task A_lone_surrogate_escape_is_a_400_naming_where(string json, string? param)
    {
        var (status, error) = await ErrorOf(Post(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)error["param"]);
    }

    [Fact]
    public async Task A_charset_other_than_utf8_is_a_415()
    {
        var (status, error) = await ErrorOf(Post(Encoding.Latin1.GetBytes(Chat("caf\u00e9")), "application/json; charset=iso-8859-1"));
        Assert.Equal(415, status);
        Assert.Equal("unsupported_charset", (string?)error["code"]);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("fffffffffffffffffff")]
    public async Task A_bad_chunk_size_is_a_400(string size)
    {
        var body = Encoding.UTF8.GetBytes(Chat("hi"));
        var (status, _) = await ErrorOf([.. Encoding.ASCII.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{size}\r\n"), .. body, .. "\r\n0\r\n\r\n"u8]);
        Assert.Equal(400, status);
    }

    [Theory]
    [InlineData("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n\r\n{}", 400)]
    [InlineData("GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n", 400)]
    [InlineData("GET /v1/models/%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400)]
    [InlineData("G@T /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 400)]
    public async Task Requests_kestrel_refuses_itself_get_the_json_error_body(string request, int expected)
    {
        var (status, error) = await ErrorOf(Encoding.ASCII.GetBytes(request));
        Assert.Equal(expected, status);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
    }

    [Fact]
    public async Task A_50_kb_query_string_is_a_414_with_the_json_error_body()
    {
        var (status, _) = await ErrorOf(Encoding.ASCII.GetBytes($"GET /v1/models?q={new string('a', 50_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        Assert.Equal(414, status);
    }

    [Theory]
    [InlineData("name")]
    [InlineData("stop")]
    [InlineData("schema")]
    public async Task A_multi_megabyte_body_is_a_413_the_client_reads_after_sending_it_all(string where)
    {
        var big = new string('a', 5_000_000);
        var json = where switch
        {
            "name" => $$"""{"model":"{{ServerFixture.ModelId}}","messages":[{"role":"user","name":"{{big}}","content":"hi"}]}""",
            "stop" => Chat("hi", $$""","stop":"{{big}}" """),
            _ => Chat("hi", $$$$""","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","description":"{{{{big}}}}"}}}"""),
        };
        var (status, error) = await ErrorOf(Post(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(413, status);
        Assert.Equal("request_too_large", (string?)error["code"]);
    }

    [Fact]
    public async Task Sixty_four_choices_with_logprobs_come_whole_with_their_length()
    {
        var reply = await RawHttp.ExchangeAsync(server.BaseUrl,
            Post(Encoding.UTF8.GetBytes(Chat("Tell me a story.", ""","n":64,"logprobs":true,"top_logprobs":2""").Replace("\"max_tokens\":4", "\"max_tokens\":128"))),
            TimeSpan.FromMinutes(2));
        Assert.Null(reply.WireProblem);
        Assert.Equal(200, reply.Status);
        Assert.Contains($"Content-Length: {reply.Body.Length}", reply.Headers, StringComparison.OrdinalIgnoreCase);
        OpenAiSchemas.AssertValid("CreateChatCompletionResponse", reply.Text);
        Assert.Equal(64, JsonNode.Parse(reply.Body)!["choices"]!.AsArray().Count);
    }
}
