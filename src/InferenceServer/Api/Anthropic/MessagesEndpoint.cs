using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Api.Anthropic;

/// <summary>
/// Anthropic's Messages API: POST /v1/messages (whole or streamed with Anthropic's events) and POST
/// /v1/messages/count_tokens. A translator: the request becomes a chat conversation (<see cref="MessagesRequest"/>),
/// goes through the same plan and engine client as chat completions, and its output becomes content blocks
/// (<see cref="MessageOutput"/>). Errors take Anthropic's shape (<see cref="AnthropicError"/>).
/// </summary>
internal static class MessagesEndpoint
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/messages", CreateAsync);
        v1.MapPost("/messages/count_tokens", CountTokensAsync);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var logger = loggers.CreateLogger(typeof(MessagesEndpoint));
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var (resolved, plan, messageCount) = await PrepareAsync(http, reader, resolver, logger, counting: false);
        var settings = plan.Settings.AsCeiling(resolved, plan.Tokens.Length);
        var message = new MessageHeader($"msg_{Guid.NewGuid():N}", resolved.Model.Id);
        var request = settings.ToEngineRequest(message.Id, plan.Tokens, resolved.Model.Engine.MaxSequenceTokens, "messages");
        var streams = await engine.SubmitAllAsync(resolved, settings, [request], aborted, messageCount);
        var output = new MessageOutput(plan.Output);

        if (settings.Stream)
            return TypedResults.ServerSentEvents(GenerationStreams.WithErrorEvent(StreamAsync(message, plan.Tokens.Length, streams[0], output, aborted),
                error => Event(AnthropicError.Shape.Body(error)), logger, aborted));

        var result = await GenerationStreams.GatherAsync(0, streams[0], aborted);
        output.Push(result.Text);
        output.Finish();
        var whole = message.Build(output.Content, StopReason(result.Reason, output, result.StopSequence), result.StopSequence);
        whole["usage"] = Usage(result.PromptTokens, result.CachedTokens, result.CompletionTokens);
        return ApiJson.Whole(whole);
    }

    /// <summary>How many input tokens the request's system prompt, messages and tools make; nothing is generated.</summary>
    private static async Task<IResult> CountTokensAsync(HttpContext http, RequestResolver resolver, ILoggerFactory loggers)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var (_, plan, _) = await PrepareAsync(http, reader, resolver, loggers.CreateLogger(typeof(MessagesEndpoint)), counting: true);
        return TypedResults.Json(new JsonObject { ["input_tokens"] = plan.Tokens.Length }, ApiJson.Options);
    }

    private static async Task<(ResolvedRequest, ChatPlan, int)> PrepareAsync(HttpContext http, RequestReader reader, RequestResolver resolver, ILogger logger, bool counting)
    {
        var resolved = await resolver.ResolveAsync(http, reader);
        var chat = MessagesRequest.ChatBody(reader, counting);
        var input = MessagesRequest.Renamed(() => ChatInput.Read(chat));
        var settings = MessagesRequest.Renamed(() => GenerationSettings.Read(chat, "max_tokens", resolved.Model.Tokenizer.VocabularySize, toolsServed: true));
        var plan = MessagesRequest.Renamed(() => ChatPlan.Prepare(resolved, input, settings, "messages", "tool_choice", logger));
        return (resolved, plan, input.Messages.Count);
    }

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(MessageHeader message, int promptTokens, ChannelReader<GenerationEvent> stream,
        MessageOutput output, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The prompt's cached share is known when it has been computed: message_delta's usage gives it.
        var start = message.Build([], null, null);
        start["usage"] = Usage(promptTokens, 0, 0);
        yield return Event(new JsonObject { ["type"] = "message_start", ["message"] = start });
        yield return Event(new JsonObject { ["type"] = "ping" });
        await foreach (var item in stream.ReadAllAsync(cancellationToken))
        {
            if (item is TextDelta delta)
            {
                foreach (var e in output.Push(delta.Text)) yield return Event(e);
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                foreach (var e in output.Finish()) yield return Event(e);
                yield return Event(new JsonObject
                {
                    ["type"] = "message_delta",
                    ["delta"] = new JsonObject { ["stop_reason"] = StopReason(done.Reason, output, done.StopSequence), ["stop_sequence"] = done.StopSequence },
                    ["usage"] = Usage(done.PromptTokens, done.CachedPromptTokens, done.CompletionTokens),
                });
                yield return Event(new JsonObject { ["type"] = "message_stop" });
            }
        }
    }

    /// <summary>An SSE event named by its type, as Anthropic sends them.</summary>
    private static SseItem<string> Event(JsonObject e) => new(e.ToJsonString(ApiJson.Options), (string)e["type"]!);

    /// <summary>The one place engine finish reasons become Anthropic's stop reasons.</summary>
    private static string StopReason(FinishReason reason, MessageOutput output, string? stopSequence) => reason switch
    {
        FinishReason.Length => "max_tokens",
        _ when output.CalledTools => "tool_use",
        _ when stopSequence is not null => "stop_sequence",
        _ => "end_turn",
    };

    /// <summary>Anthropic counts prompt tokens read from the prefix cache apart from those computed: together they are the prompt.</summary>
    private static JsonObject Usage(int promptTokens, int cachedTokens, int outputTokens) => new()
    {
        ["input_tokens"] = promptTokens - cachedTokens,
        ["cache_creation_input_tokens"] = 0,
        ["cache_read_input_tokens"] = cachedTokens,
        ["output_tokens"] = outputTokens,
    };

    private sealed record MessageHeader(string Id, string Model)
    {
        public JsonObject Build(JsonArray content, string? stopReason, string? stopSequence) => new()
        {
            ["id"] = Id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = Model,
            ["content"] = content.DeepClone(),
            ["stop_reason"] = stopReason,
            ["stop_sequence"] = stopSequence,
        };
    }
}
