using System.Runtime.CompilerServices;
using InferenceServer.Engine;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

/// <summary>POST /v1/chat/completions: OpenAI chat completions, whole or streamed as SSE, with tool calling.</summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, ModelRegistry models, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var model = await Generation.RequireModelAsync(http, models, reader);
        var input = ChatInput.Read(reader);
        http.RequestServices.GetRequiredService<Operations.Admission>().CheckMessages(input.Messages.Count);
        var settings = GenerationSettings.Read(reader, "max_completion_tokens", model.Tokenizer.VocabularySize, toolsServed: true).WithResponseFormat(reader, model.Grammars);

        var prompt = input.Render(model.ChatRenderer);
        var syntax = input.Tools.Active ? ToolCallSyntax.ForTemplate(model.ChatRenderer.TemplateSource) : null;
        if (syntax is not null && input.Tools.Grammar(syntax, model.Grammars) is { } grammar)
        {
            if (settings.Sampling.Grammar is not null)
                throw RequestReader.Invalid("response_format", "A response format cannot be combined with a forced tool call.");
            settings = settings with { Sampling = settings.Sampling with { Grammar = grammar } };
        }
        var tokens = Generation.Tokenize(model, prompt, "messages");
        var id = Generation.NewId("chatcmpl");
        var request = settings.ToEngineRequest(id, tokens, model.Engine.MaxSequenceTokens, "messages");
        var events = Generation.Submit(http, model, settings, request, aborted);
        await Generation.AwaitStartAsync([events], aborted);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var output = new OutputShape(syntax, input.Tools.Parallel);

        if (settings.Stream)
            return TypedResults.ServerSentEvents(Generation.WithErrorEvent(StreamAsync(id, created, model.Id, events, output, settings.IncludeUsage, aborted), loggers.CreateLogger(typeof(ChatCompletionsEndpoint)), aborted));

        var result = await Generation.GatherAsync(0, events, aborted);
        var parsed = output.Parse(result.Text);
        var message = parsed.ToolCalls.Count == 0
            ? new ChatMessage("assistant", result.Text)
            : new ChatMessage("assistant", parsed.Content.Length == 0 ? null : parsed.Content,
                parsed.ToolCalls.Select(call => new WireToolCall(null, call.Id ?? NewCallId(), "function", new WireFunctionCall(call.Name, call.Arguments))).ToList());
        return TypedResults.Json(new ChatCompletion(id, created, model.Id,
            [new ChatChoice(0, message, FinishReasonName(result.Reason, parsed.ToolCalls.Count > 0))],
            Usage.Of(result.PromptTokens, result.CompletionTokens, result.CachedTokens)), ApiJson.Options);
    }

    /// <summary>How the output is read: plain text, or the template family's tool-call syntax (at most one call unless parallel).</summary>
    private sealed record OutputShape(ToolCallSyntax? Syntax, bool Parallel)
    {
        public ParsedOutput Parse(string text) => Syntax is null ? ParsedOutput.Text(text) : Limit(Syntax.Parse(text));

        private ParsedOutput Limit(ParsedOutput parsed) =>
            Parallel || parsed.ToolCalls.Count <= 1 ? parsed : parsed with { ToolCalls = [parsed.ToolCalls[0]] };
    }

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, string modelId,
        System.Threading.Channels.ChannelReader<GenerationEvent> events, OutputShape output, bool includeUsage, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string Chunk(ChatDelta delta, string? finish) =>
            ApiJson.Serialize(new ChatCompletionChunk(id, created, modelId, [new ChatChunkChoice(0, delta, finish)]));

        var parser = output.Syntax is null ? null : new ToolCallStreamParser(output.Syntax);
        var calls = 0;
        IEnumerable<string> Deltas(IReadOnlyList<ToolCallStreamEvent> items)
        {
            foreach (var item in items)
            {
                if (item is ContentEvent content)
                {
                    yield return Chunk(new ChatDelta(Content: content.Text), null);
                }
                else if (item is CallEvent call && (output.Parallel || calls == 0))
                {
                    // OpenAI's shape: the first delta of a call names it, the following ones carry argument text.
                    calls++;
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(call.Index, call.Call.Id ?? NewCallId(), "function", new WireFunctionCall(call.Call.Name, ""))]), null);
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(call.Index, null, null, new WireFunctionCall(null, call.Call.Arguments))]), null);
                }
            }
        }

        yield return Chunk(new ChatDelta(Role: "assistant", Content: ""), null);
        await foreach (var (_, item) in Generation.MergeAsync([events], cancellationToken))
        {
            if (item is TextDelta delta)
            {
                if (parser is null) yield return Chunk(new ChatDelta(Content: delta.Text), null);
                else foreach (var chunk in Deltas(parser.Push(delta.Text))) yield return chunk;
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                if (parser is not null) foreach (var chunk in Deltas(parser.Finish())) yield return chunk;
                yield return Chunk(new ChatDelta(), FinishReasonName(done.Reason, calls > 0));
                if (includeUsage)
                    yield return ApiJson.Serialize(new ChatCompletionChunk(id, created, modelId, [], Usage.Of(done.PromptTokens, done.CompletionTokens, done.CachedPromptTokens)));
            }
        }
        yield return "[DONE]";
    }

    /// <summary>A natural stop after a call is OpenAI's "tool_calls"; "length" stays "length".</summary>
    private static string FinishReasonName(FinishReason reason, bool calledTools) =>
        calledTools && reason == FinishReason.Stop ? "tool_calls" : Generation.FinishReasonName(reason);

    private static string NewCallId() => $"call_{Guid.NewGuid():N}"[..29];
}
