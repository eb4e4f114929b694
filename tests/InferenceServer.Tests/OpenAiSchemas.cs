using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace InferenceServer.Tests;

/// <summary>
/// OpenAI's published response schemas (tests/fixtures/openapi, extracted from openai/openai-openapi; see its
/// README), judged by JsonSchema.Net: a response must validate against the schema of the same name.
/// </summary>
public static class OpenAiSchemas
{
    private static readonly JsonObject Definitions = (JsonObject)JsonNode.Parse(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "openapi", "openai-responses.schema.json")))!["$defs"]!;

    private static readonly ConcurrentDictionary<string, JsonSchema> Schemas = new();

    /// <summary>The problems of <paramref name="json"/> against schema <paramref name="name"/>, or null when it validates.</summary>
    public static string? Problems(string name, string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return $"not JSON ({ex.Message}): {Clip(json)}";
        }
        using (document)
        {
            var result = Schema(name).Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (result.IsValid) return null;
            var errors = (result.Details ?? []).Where(d => d.Errors is not null)
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Distinct().Take(8);
            return $"does not validate as {name}: {string.Join("; ", errors)}\n{Clip(json)}";
        }
    }

    public static void AssertValid(string name, string json)
    {
        if (Problems(name, json) is { } problems) Assert.Fail(problems);
    }

    private static JsonSchema Schema(string name) => Schemas.GetOrAdd(name, _ =>
    {
        if (!Definitions.ContainsKey(name)) throw new ArgumentException($"No schema {name} in the OpenAI fixture.");
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = $"https://openai.test/{name}",
            ["$defs"] = Definitions.DeepClone(),
            ["$ref"] = $"#/$defs/{name}",
        };
        return JsonSchema.FromText(root.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    });

    private static string Clip(string text) => text.Length <= 600 ? text : text[..600] + "…";
}

/// <summary>
/// An HTTP handler for the test clients (the fixture's HttpClient and the OpenAI SDK's transport) that validates
/// everything the server sends on OpenAI routes: whole bodies, each streamed SSE chunk, and every error body.
/// A response that does not validate fails the request with <see cref="SchemaViolationException"/>.
/// </summary>
public sealed class OpenAiSchemaCheck() : DelegatingHandler(new SocketsHttpHandler())
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var path = request.RequestUri!.AbsolutePath.TrimEnd('/');
        if (request.Method == HttpMethod.Head || path is "/health" or "/ready" || response.StatusCode == HttpStatusCode.NoContent) return response;
        var (whole, chunk) = SchemasFor(request.Method, path, (int)response.StatusCode);
        if (whole is null && chunk is null) return response;

        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream" && chunk is not null)
        {
            var content = new StreamContent(new SseCheckingStream(await response.Content.ReadAsStreamAsync(cancellationToken), chunk, path));
            foreach (var header in response.Content.Headers) content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            response.Content = content;
        }
        else if (whole is not null)
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (OpenAiSchemas.Problems(whole, body) is { } problems)
                throw new SchemaViolationException($"{request.Method} {path} {(int)response.StatusCode}: {problems}");
        }
        return response;
    }

    /// <summary>The schema of a whole body and of a streamed chunk for a route; errors everywhere are ErrorResponse.</summary>
    private static (string? Whole, string? Chunk) SchemasFor(HttpMethod method, string path, int status)
    {
        if (status >= 400) return ("ErrorResponse", null);
        return (method.Method, path) switch
        {
            ("POST", "/v1/chat/completions") => ("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse"),
            ("POST", "/v1/completions") => ("CreateCompletionResponse", "CreateCompletionResponse"),
            ("POST", "/v1/embeddings") => ("CreateEmbeddingResponse", null),
            ("GET", "/v1/models") => ("ListModelsResponse", null),
            ("GET", _) when path.StartsWith("/v1/models/", StringComparison.Ordinal) => ("Model", null),
            _ => (null, null),
        };
    }

    /// <summary>Passes an SSE body through, validating each event's data as it completes (an error event as ErrorResponse).</summary>
    private sealed class SseCheckingStream(Stream inner, string schema, string path) : Stream
    {
        private readonly StringBuilder _pending = new();
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Inspect(buffer.Span[..read]);
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            Inspect(buffer.AsSpan(offset, read));
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void Inspect(ReadOnlySpan<byte> bytes)
        {
            var chars = new char[_decoder.GetCharCount(bytes, flush: false)];
            _decoder.GetChars(bytes, chars, flush: false);
            _pending.Append(chars).Replace("\r\n", "\n");
            int end;
            while ((end = _pending.ToString().IndexOf("\n\n", StringComparison.Ordinal)) >= 0)
            {
                var eventText = _pending.ToString(0, end);
                _pending.Remove(0, end + 2);
                var data = string.Join("\n", eventText.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => l[5..].TrimStart()));
                if (data.Length == 0 || data == "[DONE]") continue;
                var name = data.Contains("\"error\"", StringComparison.Ordinal) && !data.Contains("\"choices\"", StringComparison.Ordinal) ? "ErrorResponse" : schema;
                if (OpenAiSchemas.Problems(name, data) is { } problems) throw new SchemaViolationException($"POST {path} stream chunk: {problems}");
            }
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

public sealed class SchemaViolationException(string message) : Exception(message);
