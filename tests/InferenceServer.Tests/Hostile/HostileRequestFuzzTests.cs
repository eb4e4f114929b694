using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace InferenceServer.Tests.Hostile;

/// <summary>
/// Seeded hostile requests over raw sockets against the real server: bytes that are not UTF-8, lone surrogate
/// escapes, foreign charsets, broken chunked framing, HTTP/1.0 and request-line abuse, multi-megabyte strings,
/// deep and huge schemas, NUL bytes and long URLs, and many choices with logprobs, with valid requests in between.
/// Every reply must be a complete response: no 5xx, every error an OpenAI error body, every 2xx whole and valid
/// against OpenAI's schema, and never a reset or silence where a 4xx fits.
/// </summary>
[Collection(HostileServerCollection.Name)]
public sealed class HostileRequestFuzzTests(HostileServerFixture server, ITestOutputHelper output)
{
    private const string Model = ServerFixture.ModelId;

    [Fact]
    public async Task Hostile_requests_get_complete_4xx_or_2xx_replies()
    {
        // Fixed so the suite is deterministic and fast. To explore: HOSTILE_FUZZ_SEED, HOSTILE_FUZZ_SCALE (times the ~120
        // requests), and HOSTILE_FUZZ_SERVER to aim it at another running server.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_FUZZ_SEED"), out var s) ? s : 20261203;
        var scale = int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_FUZZ_SCALE"), out var x) && x > 0 ? x : 1;
        var target = Environment.GetEnvironmentVariable("HOSTILE_FUZZ_SERVER") is { Length: > 0 } url ? new Uri(url) : server.BaseUrl;
        var cases = new HostileCases(new Random(seed)).All(scale);

        var failures = new List<string>();
        var tally = new SortedDictionary<string, SortedDictionary<int, int>>();
        foreach (var (kind, description, request) in cases)
        {
            var reply = await RawHttp.ExchangeAsync(target, request, TimeSpan.FromSeconds(60));
            var byStatus = tally.TryGetValue(kind, out var t) ? t : tally[kind] = [];
            byStatus[reply.Status] = byStatus.GetValueOrDefault(reply.Status) + 1;
            if (Judge(reply, request) is { } problem) failures.Add($"[{kind}] {description}: {problem}");
        }

        output.WriteLine($"seed {seed}: {cases.Count} requests");
        foreach (var (kind, byStatus) in tally) output.WriteLine($"  {kind,-12} {string.Join(", ", byStatus.Select(p => $"{p.Key}×{p.Value}"))}");
        foreach (var failure in failures) output.WriteLine(failure);
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} replies broke the contract (seed {seed}):\n{string.Join("\n", failures.Take(20))}");
    }

    /// <summary>What is wrong with a reply, or null: a 4xx with OpenAI's error body, or a whole 2xx valid against OpenAI's schema.</summary>
    private static string? Judge(RawHttp.Reply reply, byte[] request)
    {
        if (reply.WireProblem is { } wire) return $"{wire} (status {reply.Status})";
        if (reply.Status is < 200 or >= 500 or (>= 300 and < 400)) return $"status {reply.Status}: {Clip(reply.Text)}";
        if (reply.Status >= 400)
            return OpenAiSchemas.Problems("ErrorResponse", reply.Text) is { } problem ? $"{reply.Status} without an OpenAI error body: {problem}" : null;
        var path = Encoding.Latin1.GetString(request, 0, Math.Min(request.Length, 300)).Split(' ', 3).ElementAtOrDefault(1)?.Split('?')[0] ?? "";
        string? schema = path switch
        {
            "/v1/chat/completions" => "CreateChatCompletionResponse",
            "/v1/completions" => "CreateCompletionResponse",
            "/v1/embeddings" => "CreateEmbeddingResponse",
            "/v1/models" => "ListModelsResponse",
            _ when path.StartsWith("/v1/models/", StringComparison.Ordinal) => "Model",
            _ => null,
        };
        if (schema is null) return JsonNode.Parse(reply.Body) is not null ? null : "a 2xx body that is not JSON";
        return OpenAiSchemas.Problems(schema, reply.Text) is { } invalid ? $"{reply.Status} body: {invalid}" : null;
    }

    private static string Clip(string text) => text.Length <= 300 ? text : text[..300] + "…";

    /// <summary>The seeded cases, class by class, with a valid chat request after every fifth hostile one.</summary>
    private sealed class HostileCases(Random random)
    {
        private static readonly byte[][] InvalidUtf8 =
            [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3]];
        private static readonly string[] Surrogates = [@"\ud800", @"\udc00", @"\udbff\u0041", @"\ud800\ud800", @"x\udfff"];
        private static readonly string[] Charsets = ["iso-8859-1", "latin1", "utf-16", "windows-1252", "us-ascii", "UTF-8", "utf8", "ebcdic"];

        private readonly List<(string Kind, string Description, byte[] Request)> _cases = [];
        private int _hostile;

        public List<(string Kind, string Description, byte[] Request)> All(int scale)
        {
            for (var i = 0; i < 16 * scale; i++) Utf8();
            for (var i = 0; i < 16 * scale; i++) Surrogate();
            for (var i = 0; i < 10 * scale; i++) Charset();
            for (var i = 0; i < 14 * scale; i++) Chunked();
            UnfinishedChunkedBody();
            for (var i = 0; i < 14 * scale; i++) RequestLine();
            for (var i = 0; i < 8 * scale; i++) HugeString();
            for (var i = 0; i < 8 * scale; i++) Schema();
            for (var i = 0; i < 14 * scale; i++) Url();
            ManyChoicesWithLogprobs();
            return _cases;
        }

        private void Add(string kind, string description, byte[] request)
        {
            _cases.Add((kind, description, request));
            if (++_hostile % 5 == 0)
                _cases.Add(("valid", "POST /v1/chat/completions (valid, between hostile ones)", Post("/v1/chat/completions", Chat("Tell me a story.", 8))));
        }

        private static string Chat(string content, int maxTokens, string extra = "") =>
            $$"""{"model":"{{Model}}","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"{{content}}"}]{{extra}}}""";

        private static byte[] Post(string path, string json, string contentType = "application/json") => Post(path, Encoding.UTF8.GetBytes(json), contentType);

        private static byte[] Post(string path, byte[] body, string contentType = "application/json") =>
            [.. Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];

        private static byte[] Raw(string head, byte[]? body = null) => [.. Encoding.Latin1.GetBytes(head), .. body ?? []];

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

        /// <summary>A request template with one marked spot where hostile bytes go (a key, a value, stop, model, an embedding input).</summary>
        private (string Path, string Json) Spot() => Pick<(string, string)>(
        [
            ("/v1/chat/completions", Chat("hi @@", 4)),
            ("/v1/chat/completions", $$"""{"model":"{{Model}}","max_tokens":4,"@@":1,"messages":[{"role":"user","content":"hi"}]}"""),
            ("/v1/chat/completions", Chat("hi", 4, ""","stop":["a@@"]""")),
            ("/v1/chat/completions", $$"""{"model":"{{Model}}@@","messages":[{"role":"user","content":"hi"}]}"""),
            ("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user@@","content":"hi"}]}"""),
            ("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","name":"n@@","content":"hi"}]}"""),
            ("/v1/completions", $$"""{"model":"{{Model}}","max_tokens":4,"prompt":"Once @@"}"""),
            ("/v1/embeddings", $$"""{"model":"{{Model}}","input":"a @@"}"""),
            ("/tokenize", """{"content":"a @@"}"""),
        ]);

        private void Utf8()
        {
            var (path, json) = Spot();
            var bad = Pick(InvalidUtf8);
            var at = json.IndexOf("@@", StringComparison.Ordinal);
            byte[] body = [.. Encoding.UTF8.GetBytes(json[..at]), .. bad, .. Encoding.UTF8.GetBytes(json[(at + 2)..])];
            Add("utf8", $"POST {path} with bytes {Convert.ToHexString(bad)}", Post(path, body));
        }

        private void Surrogate()
        {
            var (path, json) = Spot();
            var escape = Pick(Surrogates);
            Add("surrogate", $"POST {path} with {escape}", Post(path, json.Replace("@@", escape)));
        }

        private void Charset()
        {
            var charset = Pick(Charsets);
            var latin1 = random.Next(2) == 0;
            var json = Chat(latin1 ? "caf\u00e9" : "cafe", 4);
            var body = latin1 ? Encoding.Latin1.GetBytes(json) : Encoding.UTF8.GetBytes(json);
            Add("charset", $"POST /v1/chat/completions charset={charset}{(latin1 ? " with a Latin-1 byte" : "")}",
                Post("/v1/chat/completions", body, $"application/json; charset={charset}"));
        }

        private void Chunked()
        {
            var body = Encoding.UTF8.GetBytes(Chat("hi", 4));
            var head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            var (what, framed) = random.Next(6) switch
            {
                0 => ("a chunk size that is not hex", Raw(head + "zz\r\n", [.. body, .. "\r\n0\r\n\r\n"u8])),
                1 => ("a negative chunk size", Raw(head + "-5\r\n", [.. body, .. "\r\n0\r\n\r\n"u8])),
                2 => ("a chunk size beyond 64 bits", Raw(head + "fffffffffffffffffff\r\n", [.. body, .. "\r\n0\r\n\r\n"u8])),
                3 => ("no CRLF after the chunk data", Raw(head + $"{body.Length:x}\r\n", [.. body, .. "XX0\r\n\r\n"u8])),
                4 => ("a garbage chunk extension", Raw(head + $"{body.Length:x};\u0001=\u0002\r\n", [.. body, .. "\r\n0\r\n\r\n"u8])),
                _ => ("both Content-Length and chunked", Raw(head.Replace("Transfer-Encoding", $"Content-Length: {body.Length}\r\nTransfer-Encoding") + $"{body.Length:x}\r\n",
                    [.. body, .. "\r\n0\r\n\r\n"u8])),
            };
            Add("chunked", $"POST /v1/chat/completions with {what}", framed);
        }

        /// <summary>A body whose last chunk never comes: the server waits for Kestrel's minimum body data rate (5 s grace), then answers 408.</summary>
        private void UnfinishedChunkedBody()
        {
            var body = Encoding.UTF8.GetBytes(Chat("hi", 4));
            Add("chunked", "POST /v1/chat/completions with no last chunk (the client waits)",
                Raw($"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{body.Length:x}\r\n", [.. body, .. "\r\n"u8]));
        }

        private void RequestLine()
        {
            var body = Encoding.UTF8.GetBytes(Chat("hi", 4));
            var (what, request) = random.Next(10) switch
            {
                0 => ("HTTP/1.0 POST without Content-Length", Raw("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n\r\n", body)),
                1 => ("HTTP/1.0 POST with chunked", Raw($"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{body.Length:x}\r\n",
                    [.. body, .. "\r\n0\r\n\r\n"u8])),
                2 => ("HTTP/1.0 GET without Host", Raw("GET /v1/models HTTP/1.0\r\n\r\n")),
                3 => ("HTTP/0.9 request line", Raw("GET /v1/models\r\n\r\n")),
                4 => ("version HTTP/1.2", Raw("GET /v1/models HTTP/1.2\r\nHost: x\r\n\r\n")),
                5 => ("version HTTP/2.0 over HTTP/1", Raw("GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n")),
                6 => ("a method with a bad character", Raw("G@T /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
                7 => ("HTTP/1.1 without Host", Raw("GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n")),
                8 => ("a header line without a colon", Raw("GET /v1/models HTTP/1.1\r\nHost: x\r\nBroken header\r\nConnection: close\r\n\r\n")),
                _ => ("100 KB of headers", Raw($"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 100_000)}\r\nConnection: close\r\n\r\n")),
            };
            Add("request-line", what, request);
        }

        private void HugeString()
        {
            var size = random.Next(2) == 0 ? 5_000_000 : 2_000_000;
            var big = new string('a', size);
            var (where, json) = random.Next(5) switch
            {
                0 => ("messages[].name", $$"""{"model":"{{Model}}","max_tokens":4,"messages":[{"role":"user","name":"{{big}}","content":"hi"}]}"""),
                1 => ("stop", Chat("hi", 4, $$""","stop":"{{big}}" """)),
                2 => ("response_format.json_schema.name", Chat("hi", 4, $$$$""","response_format":{"type":"json_schema","json_schema":{"name":"{{{{big}}}}","schema":{"type":"object"}}}""")),
                3 => ("content", Chat(big, 4)),
                _ => ("model", $$"""{"model":"{{big}}","messages":[{"role":"user","content":"hi"}]}"""),
            };
            Add("huge-string", $"POST /v1/chat/completions with {size / 1_000_000} MB in {where}", Post("/v1/chat/completions", json));
        }

        private void Schema()
        {
            JsonNode schema;
            string what;
            switch (random.Next(4))
            {
                case 0:
                    var depth = random.Next(65, 3000);
                    var deep = new StringBuilder();
                    for (var i = 0; i < depth; i++) deep.Append("""{"type":"object","properties":{"a":""");
                    deep.Append("""{"type":"string"}""");
                    for (var i = 0; i < depth; i++) deep.Append("}}");
                    Add("schema", $"POST /v1/chat/completions with a schema {depth} objects deep",
                        Post("/v1/chat/completions", Chat("hi", 4, $$$""","response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":{{{deep}}}}}""")));
                    return;
                case 1:
                    var nested = (JsonNode)new JsonObject { ["type"] = "string" };
                    var levels = random.Next(20, 60);
                    for (var i = 0; i < levels; i++) nested = new JsonObject { ["type"] = "array", ["items"] = nested };
                    (schema, what) = (nested, $"arrays {levels} deep");
                    break;
                case 2:
                    var wide = new JsonObject();
                    var count = random.Next(2) == 0 ? 200_000 : 20_000;
                    for (var i = 0; i < count; i++) wide[$"p{i}"] = new JsonObject { ["type"] = "integer" };
                    (schema, what) = (new JsonObject { ["type"] = "object", ["properties"] = wide, ["required"] = new JsonArray(wide.Select(p => (JsonNode?)p.Key).ToArray()) },
                        $"{count} required properties");
                    break;
                default:
                    var anyOf = new JsonArray();
                    for (var i = 0; i < 500; i++) anyOf.Add(new JsonObject { ["const"] = new string('x', 1000) + i });
                    (schema, what) = (new JsonObject { ["oneOf"] = anyOf }, "500 long oneOf branches");
                    break;
            }
            Add("schema", $"POST /v1/chat/completions with a schema of {what}",
                Post("/v1/chat/completions", Chat("hi", 4, $$$""","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{{{schema.ToJsonString()}}}}}""")));
        }

        private void Url()
        {
            var target = random.Next(9) switch
            {
                0 => "/v1/models/%00",
                1 => "/v1%00/models",
                2 => "/%00",
                3 => "/v1/models?q=" + new string('a', 50_000),
                4 => "/v1/" + new string('b', 10_000),
                5 => "/v1/models/%ZZ",
                6 => "/v1/models/../../etc/passwd",
                7 => "/v1/models/\u00c3\u00a9",
                _ => "/v1/models?x=%00&y=\u0001",
            };
            Add("url", $"GET {(target.Length > 60 ? target[..60] + $"… ({target.Length} chars)" : target)}",
                Raw($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
        }

        private void ManyChoicesWithLogprobs()
        {
            Add("n-logprobs", "POST /v1/chat/completions n 64, max_tokens 128, logprobs",
                Post("/v1/chat/completions", Chat("Tell me a story.", 128, ""","n":64,"logprobs":true""")));
            var top = random.Next(1, 6);
            Add("n-logprobs", $"POST /v1/completions n 16, echo, logprobs {top}",
                Post("/v1/completions", $$"""{"model":"{{Model}}","prompt":"Once upon a time","max_tokens":64,"n":16,"echo":true,"logprobs":{{top}}}"""));
        }
    }
}

/// <summary>
/// A server of its own (the default flags) for hostile requests: 64-choice requests and many aborted ones leave
/// the KV cells arranged differently, which changes the rounding of other tests' sampling on a shared server.
/// </summary>
public sealed class HostileServerFixture : ServerFixture;

[CollectionDefinition(Name)]
public sealed class HostileServerCollection : ICollectionFixture<HostileServerFixture>
{
    public const string Name = "hostile server";
}
