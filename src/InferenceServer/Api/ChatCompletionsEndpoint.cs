using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>POST /v1/chat/completions: OpenAI chat completions, whole or streamed as SSE.</summary>
internal static class ChatCompletionsEndpoint
{
    private static readonly string[] Roles = ["system", "developer", "user", "assistant"];

    public static async Task<IResult> HandleAsync(HttpContext http, ModelHost host, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var model = Generation.RequireModel(host, reader);
        var turns = ReadMessages(reader);
        var settings = GenerationSettings.Read(reader, "max_completion_tokens");

        var prompt = model.ChatRenderer.Render(turns, addGenerationPrompt: true);
        var tokens = Generation.Tokenize(model, prompt, "messages");
        var id = Generation.NewId("chatcmpl");
        var request = settings.ToEngineRequest(id, tokens, model.Engine.MaxSequenceTokens, "messages");
        var events = Generation.Submit(model, request, aborted);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        if (settings.Stream)
            return TypedResults.ServerSentEvents(Generation.WithErrorEvent(StreamAsync(id, created, model.Id, events, settings.IncludeUsage, aborted), loggers.CreateLogger(typeof(ChatCompletionsEndpoint)), aborted));

        var result = await Generation.GatherAsync(0, events, aborted);
        return TypedResults.Json(new ChatCompletion(id, created, model.Id,
            [new ChatChoice(0, new ChatMessage("assistant", result.Text), Generation.FinishReasonName(result.Reason))],
            Usage.Of(result.PromptTokens, result.CompletionTokens, result.CachedTokens)), ApiJson.Options);
    }

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, string modelId,
        System.Threading.Channels.ChannelReader<GenerationEvent> events, bool includeUsage, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string Chunk(ChatDelta delta, string? finish) =>
            ApiJson.Serialize(new ChatCompletionChunk(id, created, modelId, [new ChatChunkChoice(0, delta, finish)]));

        yield return Chunk(new ChatDelta(Role: "assistant", Content: ""), null);
        await foreach (var (_, item) in Generation.MergeAsync([events], cancellationToken))
        {
            if (item is TextDelta delta)
            {
                yield return Chunk(new ChatDelta(Content: delta.Text), null);
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                yield return Chunk(new ChatDelta(), Generation.FinishReasonName(done.Reason));
                if (includeUsage)
                    yield return ApiJson.Serialize(new ChatCompletionChunk(id, created, modelId, [], Usage.Of(done.PromptTokens, done.CompletionTokens, done.CachedPromptTokens)));
            }
        }
        yield return "[DONE]";
    }

    private static List<ChatTurn> ReadMessages(RequestReader reader)
    {
        if (reader.Get("messages") is not JsonArray messages)
            throw reader.Get("messages") is null
                ? RequestReader.Invalid("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
                : RequestReader.WrongType("messages", "an array", reader.Get("messages"));
        if (messages.Count == 0)
            throw RequestReader.Invalid("messages", "'messages' must contain at least one message.");

        var turns = new List<ChatTurn>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var param = $"messages[{i}]";
            if (messages[i] is not JsonObject message) throw RequestReader.WrongType(param, "an object", messages[i]);
            var fields = new RequestReader(message);
            var role = ReadField(() => fields.RequiredString("role"), param);
            if (!Roles.Contains(role))
            {
                var hint = role == "tool" ? " Tool messages need tool calling, which this server does not support yet." : "";
                throw RequestReader.Invalid($"{param}.role", $"Invalid role '{role}': expected one of {string.Join(", ", Roles)}.{hint}");
            }
            turns.Add(new ChatTurn(role, ReadContent(message["content"], $"{param}.content", allowMissing: role == "assistant")));
        }
        return turns;
    }

    /// <summary>Content is a string or an array of text parts (joined with newlines); other part types are refused.</summary>
    private static string ReadContent(JsonNode? content, string param, bool allowMissing)
    {
        switch (content)
        {
            case null when allowMissing:
                return "";
            case null:
                throw RequestReader.Invalid(param, $"Missing required parameter: '{param}'.", "missing_required_parameter");
            case JsonValue v when v.TryGetValue(out string? text):
                return text;
            case JsonArray parts:
                var joined = new StringBuilder();
                for (var i = 0; i < parts.Count; i++)
                {
                    var partParam = $"{param}[{i}]";
                    if (parts[i] is not JsonObject part) throw RequestReader.WrongType(partParam, "an object", parts[i]);
                    var fields = new RequestReader(part);
                    var type = ReadField(() => fields.RequiredString("type"), partParam);
                    if (type != "text")
                        throw RequestReader.Invalid($"{partParam}.type", $"Content parts of type '{type}' are not supported: this model reads text only.", "unsupported_content");
                    if (joined.Length > 0) joined.Append('\n');
                    joined.Append(ReadField(() => fields.RequiredString("text"), partParam));
                }
                return joined.ToString();
            default:
                throw RequestReader.WrongType(param, "a string or an array of content parts", content);
        }
    }

    /// <summary>Re-reads a nested field's error so that its param names the full path (messages[2].role).</summary>
    private static T ReadField<T>(Func<T> read, string parent)
    {
        try
        {
            return read();
        }
        catch (ApiException ex) when (ex.Error.Param is { } inner && !inner.StartsWith(parent, StringComparison.Ordinal))
        {
            throw new ApiException(ex.Error with { Param = $"{parent}.{inner}", Message = ex.Error.Message.Replace($"'{inner}'", $"'{parent}.{inner}'") });
        }
    }
}
