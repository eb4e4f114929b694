using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.LoadGen.Metrics;

namespace InferenceServer.LoadGen.Client;

/// <summary>
/// Sends one streaming request and times its chunks. Thread-safe: one instance serves every concurrent request.
/// Definitions (as vLLM's benchmark): TTFT = send → first chunk with non-empty content; ITL = gap between consecutive
/// content chunks; end-to-end = send → end of stream. Token counts come from the final usage chunk.
/// With several models, conversation i uses models[i mod count] (e.g. one base model's LoRA adapters).
/// </summary>
internal sealed class StreamingClient(HttpClient http, Uri baseUrl, IReadOnlyList<string> models, EndpointKind endpoint, string? apiKey, TimeSpan timeout)
{
    private const int MaxErrorBodyChars = 300;

    public async Task<RequestRecord> SendAsync(StreamingRequest request, int conversationId, int turn, TimeSpan sentAt, CancellationToken runAborted)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(runAborted);
        timeoutSource.CancelAfter(timeout);
        CancellationToken token = timeoutSource.Token;

        var timing = new Timing(Stopwatch.GetTimestamp());
        var generated = new StringBuilder();
        var usage = default(Usage?);
        bool done = false, finished = false;
        RequestFailure? failure = null;
        try
        {
            using HttpRequestMessage message = BuildMessage(request, models[conversationId % models.Count]);
            using HttpResponseMessage response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token);
            if (!response.IsSuccessStatusCode)
            {
                string body = await ReadSomeAsync(response, token);
                failure = new RequestFailure(FailureKind.HttpStatus, (int)response.StatusCode, body);
            }
            else
            {
                await using Stream stream = await response.Content.ReadAsStreamAsync(token);
                await foreach (SseItem<string> item in SseParser.Create(stream).EnumerateAsync(token))
                {
                    long now = Stopwatch.GetTimestamp();
                    timing.LastEvent = now;
                    if (item.Data == "[DONE]")
                    {
                        done = true;
                        break;
                    }
                    ChunkResult chunk = ParseChunk(item.Data);
                    if (chunk.Error is not null)
                    {
                        failure = new RequestFailure(FailureKind.StreamError, null, chunk.Error);
                        break;
                    }
                    if (!string.IsNullOrEmpty(chunk.Content))
                    {
                        timing.OnContent(now);
                        generated.Append(chunk.Content);
                    }
                    finished |= chunk.Finished;
                    usage = chunk.Usage ?? usage;
                }
                if (failure is null && !done && !finished)
                    failure = new RequestFailure(FailureKind.BrokenStream, null, "stream ended before [DONE] or a finish_reason");
            }
        }
        catch (OperationCanceledException) when (runAborted.IsCancellationRequested)
        {
            return timing.ToRecord(conversationId, turn, sentAt, generated, usage) with { Aborted = true };
        }
        catch (OperationCanceledException)
        {
            failure = new RequestFailure(FailureKind.Timeout, null, $"no complete answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
        {
            failure = new RequestFailure(FailureKind.Connection, null, e.Message);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or FormatException)
        {
            failure = new RequestFailure(FailureKind.BrokenStream, null, e.Message);
        }

        if (timing.LastEvent == 0)
            timing.LastEvent = Stopwatch.GetTimestamp();
        return timing.ToRecord(conversationId, turn, sentAt, generated, usage) with { Failure = failure };
    }

    private HttpRequestMessage BuildMessage(StreamingRequest request, string model)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = request.MaxTokens,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (request.IgnoreEos)
            body["ignore_eos"] = true; // vLLM/llama.cpp extension: random-weight models rarely stop on their own.
        string path;
        if (endpoint == EndpointKind.ChatCompletions)
        {
            path = "chat/completions";
            var messages = new JsonArray();
            foreach (ChatMessage m in request.Messages)
                messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
            body["messages"] = messages;
        }
        else
        {
            path = "completions";
            body["prompt"] = RenderPrompt(request.Messages);
        }

        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, path))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        message.Headers.Accept.ParseAdd("text/event-stream");
        if (apiKey is not null)
            message.Headers.Authorization = new("Bearer", apiKey);
        return message;
    }

    /// <summary>Flattens a history for the plain completions API; a single user turn is sent verbatim.</summary>
    internal static string RenderPrompt(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 1)
            return messages[0].Content;
        var text = new StringBuilder();
        foreach (ChatMessage m in messages)
            text.Append(m.Role == "user" ? "User: " : "Assistant: ").Append(m.Content).Append('\n');
        return text.Append("Assistant:").ToString();
    }

    internal readonly record struct Usage(int PromptTokens, int CachedTokens, int CompletionTokens);

    internal readonly record struct ChunkResult(string? Content, bool Finished, Usage? Usage, string? Error);

    /// <summary>Reads one chunk of either API: chat (<c>choices[0].delta.content</c>) or completions (<c>choices[0].text</c>).</summary>
    internal static ChunkResult ParseChunk(string data)
    {
        using JsonDocument doc = JsonDocument.Parse(data);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException("chunk is not a JSON object");
        if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind != JsonValueKind.Null)
            return new ChunkResult(null, false, null, error.ToString());

        string? content = null;
        bool finished = false;
        if (root.TryGetProperty("choices", out JsonElement choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            JsonElement choice = choices[0];
            if (choice.TryGetProperty("delta", out JsonElement delta) && delta.ValueKind == JsonValueKind.Object)
                content = StringOrNull(delta, "content") ?? StringOrNull(delta, "reasoning_content");
            else
                content = StringOrNull(choice, "text");
            finished = choice.TryGetProperty("finish_reason", out JsonElement reason) && reason.ValueKind == JsonValueKind.String;
        }

        Usage? usage = null;
        if (root.TryGetProperty("usage", out JsonElement u) && u.ValueKind == JsonValueKind.Object)
        {
            int cached = u.TryGetProperty("prompt_tokens_details", out JsonElement details) && details.ValueKind == JsonValueKind.Object
                ? IntOrZero(details, "cached_tokens")
                : 0;
            usage = new Usage(IntOrZero(u, "prompt_tokens"), cached, IntOrZero(u, "completion_tokens"));
        }
        return new ChunkResult(content, finished, usage, null);
    }

    private static string? StringOrNull(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int IntOrZero(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken token)
    {
        try
        {
            string body = await response.Content.ReadAsStringAsync(token);
            return body.Length > MaxErrorBodyChars ? body[..MaxErrorBodyChars] : body;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }
    }

    /// <summary>Stopwatch timestamps of one request. Invariant: <c>start ≤ firstContent ≤ lastContent ≤ LastEvent</c>.</summary>
    private sealed class Timing(long start)
    {
        private long _firstContent;
        private long _lastContent;
        private readonly List<TimeSpan> _gaps = [];

        public long LastEvent { get; set; }

        public void OnContent(long now)
        {
            if (_firstContent == 0)
                _firstContent = now;
            else
                _gaps.Add(Stopwatch.GetElapsedTime(_lastContent, now));
            _lastContent = now;
        }

        public RequestRecord ToRecord(int conversationId, int turn, TimeSpan sentAt, StringBuilder generated, Usage? usage) => new()
        {
            ConversationId = conversationId,
            Turn = turn,
            SentAt = sentAt,
            EndToEnd = Stopwatch.GetElapsedTime(start, LastEvent == 0 ? Stopwatch.GetTimestamp() : LastEvent),
            TimeToFirstToken = _firstContent == 0 ? null : Stopwatch.GetElapsedTime(start, _firstContent),
            InterTokenLatencies = _gaps,
            ContentChunks = _firstContent == 0 ? 0 : _gaps.Count + 1,
            UsageReported = usage is not null,
            PromptTokens = usage?.PromptTokens ?? 0,
            CachedPromptTokens = usage?.CachedTokens ?? 0,
            CompletionTokens = usage?.CompletionTokens ?? 0,
            GeneratedText = generated.ToString(),
        };
    }
}
