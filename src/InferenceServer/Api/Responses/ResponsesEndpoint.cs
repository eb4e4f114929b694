using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InferenceServer.Engine;
using InferenceServer.Operations;

namespace InferenceServer.Api.Responses;

/// <summary>
/// OpenAI's Responses API: POST /v1/responses (whole or streamed), POST /v1/responses/input_tokens, and for stored
/// responses GET /v1/responses/{id}, DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items. A translator:
/// the request becomes a chat conversation (<see cref="ResponseRequest"/>), goes through the same plan and engine
/// client as chat completions, and its output becomes response items (<see cref="ResponseOutput"/>).
/// </summary>
internal static class ResponsesEndpoint
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/responses", CreateAsync);
        v1.MapPost("/responses/input_tokens", CountInputTokensAsync);
        v1.MapGet("/responses/{id}", Get);
        v1.MapDelete("/responses/{id}", Delete);
        v1.MapGet("/responses/{id}/input_items", ListInputItems);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ResponseStore store, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var prepared = await PrepareAsync(http, reader, resolver, store, loggers.CreateLogger(typeof(ResponsesEndpoint)));
        var (resolved, request, plan) = (prepared.Resolved, prepared.Request, prepared.Plan);
        var header = new ResponseHeader(ResponseIds.New("resp"), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), resolved.Model.Id, request, reader, prepared.PreviousId);
        var engineRequest = plan.Settings.ToEngineRequest(header.Id, plan.Tokens, resolved.Model.Engine.MaxSequenceTokens, "input");
        var streams = await engine.SubmitAllAsync(resolved, plan.Settings, [engineRequest], aborted, prepared.MessageCount);
        var output = new ResponseOutput(plan.Output, plan.Settings.Logprobs is not null);
        var finish = new Finisher(header, request, output, store, resolved);

        if (plan.Settings.Stream)
        {
            var events = new ResponseEvents();
            return TypedResults.ServerSentEvents(GenerationStreams.WithErrorEvent(
                StreamAsync(header, streams[0], output, finish, events, resolved, aborted), events.Error, loggers.CreateLogger(typeof(ResponsesEndpoint)), aborted));
        }

        var result = await GenerationStreams.GatherAsync(0, streams[0], aborted);
        output.Push(result.Text, plan.Settings.Logprobs is null ? null : Logprobs(resolved, result.Logprobs));
        return ApiJson.Whole(finish.Complete(result.Reason, result.PromptTokens, result.CompletionTokens, result.CachedTokens, out _));
    }

    /// <summary>How many tokens the request's input would be, with its instructions, tools and previous response; nothing is generated.</summary>
    private static async Task<IResult> CountInputTokensAsync(HttpContext http, RequestResolver resolver, ResponseStore store, ILoggerFactory loggers)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var prepared = await PrepareAsync(http, reader, resolver, store, loggers.CreateLogger(typeof(ResponsesEndpoint)));
        return TypedResults.Json(new JsonObject { ["object"] = "response.input_tokens", ["input_tokens"] = prepared.Plan.Tokens.Length }, ApiJson.Options);
    }

    private static IResult Get(HttpContext http, string id, ResponseStore store)
    {
        if (http.Request.Query["stream"] == "true")
            throw RequestReader.Invalid("stream", "Streaming a stored response again is not supported: GET it whole.", "unsupported_parameter");
        return store.Get(id, RequestIdentity.Of(http).KeyId) is { } stored
            ? TypedResults.Json(stored.Response, ApiJson.Options)
            : NotFound(id, null).ToResult();
    }

    private static IResult Delete(HttpContext http, string id, ResponseStore store) =>
        store.Delete(id, RequestIdentity.Of(http).KeyId)
            ? TypedResults.Json(new JsonObject { ["id"] = id, ["object"] = "response", ["deleted"] = true }, ApiJson.Options)
            : NotFound(id, null).ToResult();

    /// <summary>The request's own input items (not those of earlier turns), newest first unless order=asc, paged by limit and after.</summary>
    private static IResult ListInputItems(HttpContext http, string id, ResponseStore store, int? limit, string? order, string? after)
    {
        if (store.Get(id, RequestIdentity.Of(http).KeyId) is not { } stored) return NotFound(id, null).ToResult();
        if (limit is < 1 or > 100) throw RequestReader.Invalid("limit", $"{limit} is out of range for 'limit': expected an integer from 1 to 100.");
        if (order is not (null or "asc" or "desc")) throw RequestReader.Invalid("order", $"Invalid order '{order}': expected 'asc' or 'desc'.");
        var items = order == "asc" ? stored.InputItems.ToList() : stored.InputItems.Reverse().ToList();
        if (after is not null)
        {
            var at = items.FindIndex(item => (string?)item!["id"] == after);
            if (at < 0) throw RequestReader.Invalid("after", $"No input item '{after}' in response '{id}'.");
            items = items[(at + 1)..];
        }
        var page = items.Take(limit ?? 20).Select(item => item!.DeepClone()).ToList();
        return TypedResults.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. page]),
            ["first_id"] = page.Count > 0 ? page[0]!["id"]!.DeepClone() : null,
            ["last_id"] = page.Count > 0 ? page[^1]!["id"]!.DeepClone() : null,
            ["has_more"] = items.Count > page.Count,
        }, ApiJson.Options);
    }

    private sealed record Prepared(ResolvedRequest Resolved, ResponseRequest Request, ChatPlan Plan, string? PreviousId, int MessageCount);

    /// <summary>Resolves the model, finds the previous response, reads the request and plans its prompt (shared by create and input_tokens).</summary>
    private static async Task<Prepared> PrepareAsync(HttpContext http, RequestReader reader, RequestResolver resolver, ResponseStore store, ILogger logger)
    {
        var resolved = await resolver.ResolveAsync(http, reader);
        var previousId = reader.OptionalString("previous_response_id");
        StoredResponse? previous = null;
        if (previousId is not null)
            previous = store.Get(previousId, resolved.Identity.KeyId) ?? throw new ApiException(NotFound(previousId, "previous_response_id"));
        var request = ResponseRequest.Read(reader, previous?.Conversation);
        var chat = request.ChatBody();
        var model = resolved.Model;
        var input = ResponseRequest.ChatParams(() => ChatInput.Read(chat));
        var settings = GenerationSettings.Read(reader, "max_output_tokens", model.Tokenizer.VocabularySize, toolsServed: true);
        settings = ResponseRequest.ChatParams(() => settings.WithResponseFormat(chat, model.Grammars));
        if (request.TopLogprobs is > 0) settings = settings with { Logprobs = request.TopLogprobs };
        var plan = ResponseRequest.ChatParams(() => ChatPlan.Prepare(resolved, input, settings, "input", "text.format", logger));
        return new Prepared(resolved, request, plan, previousId, input.Messages.Count);
    }

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(ResponseHeader header, ChannelReader<GenerationEvent> stream, ResponseOutput output,
        Finisher finish, ResponseEvents events, ResolvedRequest resolved, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return events.Next(new JsonObject { ["type"] = "response.created", ["response"] = header.Build("in_progress", [], null) });
        yield return events.Next(new JsonObject { ["type"] = "response.in_progress", ["response"] = header.Build("in_progress", [], null) });
        var logprobs = finish.WantsLogprobs;
        await foreach (var item in stream.ReadAllAsync(cancellationToken))
        {
            if (item is TextDelta delta)
            {
                var tokenLogprobs = logprobs && delta.Logprobs is not null ? Logprobs(resolved, delta.Logprobs) : null;
                foreach (var e in output.Push(delta.Text, tokenLogprobs)) yield return events.Next(e);
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                var response = finish.Complete(done.Reason, done.PromptTokens, done.CompletionTokens, done.CachedPromptTokens, out var itemEvents);
                foreach (var e in itemEvents) yield return events.Next(e);
                var status = (string)response["status"]!;
                yield return events.Next(new JsonObject { ["type"] = status == "completed" ? "response.completed" : "response.incomplete", ["response"] = response });
            }
        }
    }

    private static JsonArray Logprobs(ResolvedRequest resolved, IEnumerable<TokenLogprob> tokens) =>
        (JsonArray)JsonSerializer.SerializeToNode(ChatLogprobs.Of(resolved.Model.Tokenizer, tokens).Content, ApiJson.Options)!;

    /// <summary>OpenAI's 404 for a response id this key cannot see; as <c>previous_response_id</c> it names that parameter.</summary>
    private static ApiError NotFound(string id, string? param) => param is null
        ? new(StatusCodes.Status404NotFound, $"Response with id '{id}' not found.", "invalid_request_error", null, "response_not_found")
        : new(StatusCodes.Status404NotFound, $"Previous response with id '{id}' not found.", "invalid_request_error", param, "previous_response_not_found");

    /// <summary>Ends a response: closes its output, builds the final object and stores it (with store, the default).</summary>
    private sealed class Finisher(ResponseHeader header, ResponseRequest request, ResponseOutput output, ResponseStore store, ResolvedRequest resolved)
    {
        public bool WantsLogprobs => request.TopLogprobs is > 0;

        public JsonObject Complete(FinishReason reason, int promptTokens, int completionTokens, int cachedTokens, out List<JsonObject> itemEvents)
        {
            var status = reason == FinishReason.Length ? "incomplete" : "completed";
            itemEvents = output.Finish(status);
            var usage = new JsonObject
            {
                ["input_tokens"] = promptTokens,
                // What the prompt computed now went into the prefix cache for the next turn.
                ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = cachedTokens, ["cache_write_tokens"] = promptTokens - cachedTokens },
                ["output_tokens"] = completionTokens,
                ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = resolved.CountTokens(output.ReasoningText) },
                ["total_tokens"] = promptTokens + completionTokens,
            };
            var response = header.Build(status, (JsonArray)output.Items.DeepClone(), usage);
            if (request.Store)
                store.Add(resolved.Identity.KeyId, new StoredResponse(response, request.InputItems, new JsonArray([.. request.Messages.Select(m => m!.DeepClone()), output.AssistantMessage()])));
            return response;
        }
    }
}

/// <summary>What every response object of one request repeats from the request (OpenAI echoes its parameters).</summary>
internal sealed record ResponseHeader(string Id, long CreatedAt, string Model, ResponseRequest Request, RequestReader Body, string? PreviousResponseId)
{
    public JsonObject Build(string status, JsonArray output, JsonObject? usage)
    {
        var response = new JsonObject
        {
            ["id"] = Id,
            ["object"] = "response",
            ["created_at"] = CreatedAt,
            ["status"] = status,
            ["background"] = false,
            ["completed_at"] = status == "completed" ? DateTimeOffset.UtcNow.ToUnixTimeSeconds() : null,
            ["error"] = null,
            ["incomplete_details"] = status == "incomplete" ? new JsonObject { ["reason"] = "max_output_tokens" } : null,
            ["instructions"] = Request.Instructions,
            ["max_output_tokens"] = Body.Get("max_output_tokens")?.DeepClone(),
            ["max_tool_calls"] = null,
            ["model"] = Model,
            ["output"] = output,
            ["parallel_tool_calls"] = Request.ParallelToolCalls,
            ["previous_response_id"] = PreviousResponseId,
            ["reasoning"] = new JsonObject { ["effort"] = Request.ReasoningEffort, ["summary"] = Request.ReasoningSummary },
            ["service_tier"] = "default",
            ["store"] = Request.Store,
            ["temperature"] = Body.Get("temperature")?.DeepClone() ?? 1.0,
            ["text"] = new JsonObject { ["format"] = Request.TextFormat.DeepClone() },
            ["tool_choice"] = Request.ToolChoice.DeepClone(),
            ["tools"] = Request.Tools.DeepClone(),
            ["top_logprobs"] = Request.TopLogprobs ?? 0,
            ["top_p"] = Body.Get("top_p")?.DeepClone() ?? 1.0,
            ["truncation"] = "disabled",
            ["metadata"] = Request.Metadata.DeepClone(),
        };
        // OpenAI's schema has these as an object and a string: absent rather than null.
        if (usage is not null) response["usage"] = usage;
        if (Request.User is { } user) response["user"] = user;
        return response;
    }
}

/// <summary>Numbers a stream's events (sequence_number from 0) and names each SSE event by its type, as OpenAI does.</summary>
internal sealed class ResponseEvents
{
    private int _next;

    public SseItem<string> Next(JsonObject e)
    {
        e["sequence_number"] = _next++;
        return new SseItem<string>(e.ToJsonString(ApiJson.Options), (string)e["type"]!);
    }

    /// <summary>A failure after the stream started: OpenAI's <c>error</c> event.</summary>
    public SseItem<string> Error(ApiError error) =>
        Next(new JsonObject { ["type"] = "error", ["code"] = error.Code ?? error.Type, ["message"] = error.Message, ["param"] = error.Param });
}
