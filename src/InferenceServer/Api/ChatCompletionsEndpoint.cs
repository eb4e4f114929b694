using System.Runtime.CompilerServices;
using InferenceServer.Engine;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

/// <summary>POST /v1/chat/completions: OpenAI chat completions, whole or streamed as SSE, with tool calling.</summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var resolved = await resolver.ResolveAsync(http, reader);
        var model = resolved.Model;
        var (plan, messages) = ChatPlan.Read(resolved, reader, loggers.CreateLogger(typeof(ChatCompletionsEndpoint)));
        var settings = plan.Settings.WithPrediction(reader, resolved);
        var id = GenerationStreams.NewId("chatcmpl");
        var request = settings.ToEngineRequest(id, plan.Tokens, model.Engine.MaxSequenceTokens, "messages");
        var streams = await engine.SubmitAllAsync(resolved, settings, [request], aborted, messages);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var output = plan.Output;

        if (settings.Stream)
            return TypedResults.ServerSentEvents(GenerationStreams.WithErrorEvent(
                StreamAsync(id, created, resolved, streams, output, settings, aborted), loggers.CreateLogger(typeof(ChatCompletionsEndpoint)), aborted));

        var results = await Task.WhenAll(streams.Select((stream, i) => GenerationStreams.GatherAsync(i, stream, aborted)));
        var reasoningTokens = 0;
        var choices = results.Select(result =>
        {
            var (reasoning, parsed) = output.Parse(result.Text);
            var message = parsed.ToolCalls.Count == 0
                ? new ChatMessage("assistant", parsed.Content)
                : new ChatMessage("assistant", parsed.Content.Length == 0 ? null : parsed.Content,
                    parsed.ToolCalls.Select(call => new WireToolCall(null, call.Id ?? GenerationStreams.NewCallId(), "function", new WireFunctionCall(call.Name, call.Arguments))).ToList());
            // reasoning_content as DeepSeek and llama-server name it, reasoning as vLLM now does.
            if (output.Reasoning is not null) message = message with { ReasoningContent = reasoning, Reasoning = reasoning };
            reasoningTokens += resolved.CountTokens(reasoning);
            var logprobs = settings.Logprobs is null ? null : ChatLogprobs.Of(model.Tokenizer, result.Logprobs);
            return new ChatChoice(result.Index, message, GenerationStreams.FinishReasonName(result.Reason, parsed.ToolCalls.Count > 0), logprobs);
        }).ToList();
        // The choices share one prompt: it is counted once.
        return ApiJson.Whole(new ChatCompletion(id, created, model.Id, choices,
            Usage.Of(results[0].PromptTokens, results.Sum(r => r.CompletionTokens), results[0].CachedTokens, output.Reasoning is null ? null : reasoningTokens,
                PredictedOutput.Usage(settings, results.Select(r => r.Speculation)))));
    }

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, ResolvedRequest resolved,
        IReadOnlyList<System.Threading.Channels.ChannelReader<GenerationEvent>> streams, OutputShape output, GenerationSettings settings,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var model = resolved.Model;
        var choices = Enumerable.Range(0, streams.Count).Select(index => new StreamedChoice(id, created, model, index, output, settings.Logprobs is not null)).ToArray();
        foreach (var choice in choices) yield return choice.Chunk(new ChatDelta(Role: "assistant", Content: ""), null);

        var finished = new GenerationFinished?[streams.Count];
        await foreach (var (index, item) in GenerationStreams.MergeAsync(streams, cancellationToken))
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
                Usage.Of(first.PromptTokens, finished.Sum(f => f?.CompletionTokens ?? 0), first.CachedPromptTokens,
                    output.Reasoning is null ? null : choices.Sum(c => resolved.CountTokens(c.ReasoningText)),
                    PredictedOutput.Usage(settings, finished.Select(f => f?.Speculation)))));
        yield return "[DONE]";
    }

    /// <summary>
    /// One choice of a streamed response: its reasoning splitter and tool-call parser, and the logprobs of tokens whose text has not
    /// been sent yet (a tool call's text is sent when the call closes; the rest go with the final chunk).
    /// </summary>
    private sealed class StreamedChoice(string id, long created, ServedModel model, int index, OutputShape output, bool logprobs)
    {
        private readonly ReasoningStreamParser? _reasoning = output.NewReasoningParser();
        private readonly System.Text.StringBuilder _reasoningText = new();
        private readonly ToolCallStreamParser? _parser = output.NewStreamParser();
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

        /// <summary>The reasoning sent so far (for its token count in the usage).</summary>
        public string ReasoningText => _reasoningText.ToString();

        public IEnumerable<string> Push(TextDelta delta)
        {
            if (delta.Logprobs is not null) _heldLogprobs.AddRange(delta.Logprobs);
            if (_reasoning is null) return Answer(delta.Text);
            var split = _reasoning.Push(delta.Text);
            return [.. Reasoning(split.Reasoning), .. Answer(split.Content)];
        }

        public IEnumerable<string> Finish(FinishReason reason)
        {
            var split = _reasoning?.Finish() ?? default;
            List<string> rest = [.. Reasoning(split.Reasoning ?? ""), .. Answer(split.Content ?? "")];
            if (_parser is not null) rest.AddRange(Deltas(_parser.Finish()));
            return [.. rest, Chunk(new ChatDelta(), GenerationStreams.FinishReasonName(reason, _calls > 0))];
        }

        private IEnumerable<string> Reasoning(string text)
        {
            if (text.Length == 0) return [];
            _reasoningText.Append(text);
            return [Chunk(new ChatDelta(ReasoningContent: text, Reasoning: text), null)];
        }

        private IEnumerable<string> Answer(string text) => _parser is not null ? Deltas(_parser.Push(text))
            : text.Length > 0 || _reasoning is null ? [Chunk(new ChatDelta(Content: text), null)] : [];

        private IEnumerable<string> Deltas(IReadOnlyList<ToolCallStreamEvent> items)
        {
            foreach (var item in items)
            {
                if (item is ContentEvent content)
                {
                    yield return Chunk(new ChatDelta(Content: content.Text), null);
                }
                // OpenAI's shape: the first delta of a call names it, the following ones carry argument text as it is generated.
                else if (item is CallStartEvent start && (output.Parallel || start.Index == 0))
                {
                    _calls++;
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(start.Index, GenerationStreams.NewCallId(), "function", new WireFunctionCall(start.Name, ""))]), null);
                }
                else if (item is ArgumentsDeltaEvent arguments && (output.Parallel || arguments.Index == 0))
                {
                    yield return Chunk(new ChatDelta(ToolCalls: [new WireToolCall(arguments.Index, null, null, new WireFunctionCall(null, arguments.Text))]), null);
                }
            }
        }
    }
}
