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
        var model = await AdapterSelection.RequireModelAsync(http, models, reader);
        var input = ChatInput.Read(reader);
        http.RequestServices.GetRequiredService<Operations.Admission>().CheckMessages(input.Messages.Count);
        var settings = GenerationSettings.Read(reader, "max_completion_tokens", model.Tokenizer.VocabularySize, toolsServed: true)
            .WithResponseFormat(reader, model.Grammars).WithChatLogprobs(reader);

        var prompt = input.Render(model.ChatRenderer, loggers.CreateLogger(typeof(ChatCompletionsEndpoint)));
        var syntax = input.OutputSyntax(model.ChatRenderer);
        if (syntax is not null && input.Tools.Grammar(syntax, model.Grammars) is { } grammar)
        {
            if (settings.Sampling.Grammar is not null)
                throw RequestReader.Invalid("response_format", "A response format cannot be combined with a forced tool call.");
            settings = settings with { Sampling = settings.Sampling with { Grammar = grammar } };
        }
        var tokens = Generation.Tokenize(model, prompt, "messages");
        var id = Generation.NewId("chatcmpl");
        var request = settings.ToEngineRequest(id, tokens, model.Engine.MaxSequenceTokens, "messages");
        var streams = await Generation.SubmitAllAsync(http, model, settings, [request], aborted);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var output = new OutputShape(syntax, input.Tools.Parallel);

        if (settings.Stream)
            return TypedResults.ServerSentEvents(Generation.WithErrorEvent(
                StreamAsync(id, created, model, streams, output, settings, aborted), loggers.CreateLogger(typeof(ChatCompletionsEndpoint)), aborted));

        var results = await Task.WhenAll(streams.Select((stream, i) => Generation.GatherAsync(i, stream, aborted)));
        var choices = results.Select(result =>
        {
            var parsed = output.Parse(result.Text);
            var message = parsed.ToolCalls.Count == 0
                ? new ChatMessage("assistant", result.Text)
                : new ChatMessage("assistant", parsed.Content.Length == 0 ? null : parsed.Content,
                    parsed.ToolCalls.Select(call => new WireToolCall(null, call.Id ?? NewCallId(), "function", new WireFunctionCall(call.Name, call.Arguments))).ToList());
            var logprobs = settings.Logprobs is null ? null : ChatLogprobs.Of(model.Tokenizer, result.Logprobs);
            return new ChatChoice(result.Index, message, FinishReasonName(result.Reason, parsed.ToolCalls.Count > 0), logprobs);
        }).ToList();
        // The choices share one prompt: it is counted once.
        return ApiJson.Whole(new ChatCompletion(id, created, model.Id, choices,
            Usage.Of(results[0].PromptTokens, results.Sum(r => r.CompletionTokens), results[0].CachedTokens)));
    }

    /// <summary>How the output is read: plain text, or the template family's tool-call syntax (at most one call unless parallel).</summary>
    private sealed record OutputShape(ToolCallSyntax? Syntax, bool Parallel)
    {
        public ParsedOutput Parse(string text) => Syntax is null ? ParsedOutput.Text(text) : Limit(Syntax.Parse(text));

        private ParsedOutput Limit(ParsedOutput parsed) =>
            Parallel || parsed.ToolCalls.Count <= 1 ? parsed : parsed with { ToolCalls = [parsed.ToolCalls[0]] };
    }

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, ServedModel model,
        IReadOnlyList<System.Threading.Channels.ChannelReader<GenerationEvent>> streams, OutputShape output, GenerationSettings settings,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var choices = Enumerable.Range(0, streams.Count).Select(index => new StreamedChoice(id, created, model, index, output, settings.Logprobs is not null)).ToArray();
        foreach (var choice in choices) yield return choice.Chunk(new ChatDelta(Role: "assistant", Content: ""), null);

        var finished = new GenerationFinished?[streams.Count];
        await foreach (var (index, item) in Generation.MergeAsync(streams, cancellationToken))
        {
            var choice = choices[index];
            if (item is TextDelta delta)
            {
                foreach (var chunk in choice.Push(delta)) yield return chunk;
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                finished[index] = done;
                foreach (var chunk in choice.Finish(done.Reason)) yield return chunk;
            }
        }
        // As in the whole response: the prompt once, with the first choice's cached share.
        if (settings.IncludeUsage && finished[0] is { } first)
            yield return ApiJson.Serialize(new ChatCompletionChunk(id, created, model.Id, [],
                Usage.Of(first.PromptTokens, finished.Sum(f => f?.CompletionTokens ?? 0), first.CachedPromptTokens)));
        yield return "[DONE]";
    }

    /// <summary>
    /// One choice of a streamed response: its tool-call parser, and the logprobs of tokens whose text has not
    /// been sent yet (a tool call's text is sent when the call closes; the rest go with the final chunk).
    /// </summary>
    private sealed class StreamedChoice(string id, long created, ServedModel model, int index, OutputShape output, bool logprobs)
    {
        private readonly ToolCallStreamParser? _parser = output.Syntax is null ? null : new ToolCallStreamParser(output.Syntax);
        private readonly List<TokenLogprob> _heldLogprobs = [];
        private int _calls;

        public string Chunk(ChatDelta delta, string? finish)
        {
            ChatLogprobs? chunkLogprobs = null;
            if (logprobs && (delta.Content is { Length: > 0 } || finish is not null))
            {
                chunkLogprobs = ChatLogprobs.Of(model.Tokenizer, _heldLogprobs);
                _heldLogprobs.Clear();
            }
            return ApiJson.Serialize(new ChatCompletionChunk(id, created, model.Id, [new ChatChunkChoice(index, delta, finish, chunkLogprobs)]));
        }

        public IEnumerable<string> Push(TextDelta delta)
        {
            if (delta.Logprobs is not null) _heldLogprobs.AddRange(delta.Logprobs);
            return _parser is null
                ? [Chunk(new ChatDelta(Content: delta.Text), null)]
                : Deltas(_parser.Push(delta.Text));
        }

        public IEnumerable<string> Finish(FinishReason reason)
        {
            var rest = _parser is null ? [] : Deltas(_parser.Finish()).ToList();
            return [.. rest, Chunk(new ChatDelta(), FinishReasonName(reason, _calls > 0))];
        }

        private IEnumerable<string> Deltas(IReadOnlyList<ToolCallStreamEvent> items)
        {
            foreach (var item in items)
            {
                if (item is ContentEvent content)
                {
                    yield return Chunk(new ChatDelta(Content: content.Text), null);
                }
                else if (item is CallEvent call && (output.Parallel || _calls == 0))
                {
                    // OpenAI's shape: the first delta of a call names it, the following ones carry argument text.
                    _calls++;
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(call.Index, call.Call.Id ?? NewCallId(), "function", new WireFunctionCall(call.Call.Name, ""))]), null);
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(call.Index, null, null, new WireFunctionCall(null, call.Call.Arguments))]), null);
                }
            }
        }
    }

    /// <summary>A natural stop after a call is OpenAI's "tool_calls"; "length" stays "length".</summary>
    private static string FinishReasonName(FinishReason reason, bool calledTools) =>
        calledTools && reason == FinishReason.Stop ? "tool_calls" : Generation.FinishReasonName(reason);

    private static string NewCallId() => $"call_{Guid.NewGuid():N}"[..29];
}
