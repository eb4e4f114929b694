using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using InferenceServer.Api;
using InferenceServer.Engine;
using InferenceServer.ToolCalls;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Embedded;

/// <summary>
/// <see cref="IChatClient"/> on the in-process engines. A call is read and prepared by the server's own code
/// (<see cref="ChatPlan"/>), queued on its model's engine beside every other caller's, and its output read with the
/// same reasoning and tool-call parsers. Leaving a call early (cancelling it, or abandoning a stream) frees its sequence.
/// Thread-safe; holds no state between calls.
/// </summary>
internal sealed class LocalChatClient(LocalInference host, string defaultModelId, ILogger logger) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var call = await StartAsync(messages, options, cancellationToken);
        var result = await GenerationStreams.GatherAsync(0, call.Events, call.Cancellation.Token);
        var (reasoning, parsed) = call.Output.Parse(result.Text);
        List<AIContent> contents = [];
        if (reasoning.Length > 0) contents.Add(new TextReasoningContent(reasoning));
        if (parsed.Content.Length > 0) contents.Add(new TextContent(parsed.Content));
        contents.AddRange(parsed.ToolCalls.Select(FunctionCall));
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, contents) { MessageId = call.Id, CreatedAt = call.Created })
        {
            ResponseId = call.Id,
            ModelId = call.Resolved.Model.Id,
            CreatedAt = call.Created,
            FinishReason = FinishReason(result.Reason, parsed.ToolCalls.Count > 0),
            Usage = Usage(call, result.PromptTokens, result.CompletionTokens, result.CachedTokens, reasoning),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var call = await StartAsync(messages, options, cancellationToken);
        var reasoningParser = call.Output.NewReasoningParser();
        var toolParser = call.Output.NewStreamParser();
        var reasoning = new System.Text.StringBuilder();
        var calls = 0;

        IEnumerable<AIContent> Answer(string text)
        {
            if (toolParser is null) return text.Length > 0 ? [new TextContent(text)] : [];
            return Contents(toolParser.Push(text));
        }

        IEnumerable<AIContent> Contents(IReadOnlyList<ToolCallStreamEvent> events)
        {
            foreach (var item in events)
            {
                if (item is ContentEvent { Text.Length: > 0 } content) yield return new TextContent(content.Text);
                // As in the whole response: one call unless parallel calls are allowed.
                else if (item is CallEvent done && (call.Output.Parallel || done.Index == 0))
                {
                    calls++;
                    yield return FunctionCall(done.Call);
                }
            }
        }

        IEnumerable<AIContent> Split(ReasoningSplit split)
        {
            if (split.Reasoning is { Length: > 0 } thought)
            {
                reasoning.Append(thought);
                yield return new TextReasoningContent(thought);
            }
            foreach (var content in Answer(split.Content ?? "")) yield return content;
        }

        await foreach (var item in call.Events.ReadAllAsync(call.Cancellation.Token))
        {
            List<AIContent> contents;
            if (item is TextDelta delta)
            {
                contents = reasoningParser is null ? [.. Answer(delta.Text)] : [.. Split(reasoningParser.Push(delta.Text))];
                if (contents.Count > 0) yield return Update(call, contents);
            }
            else if (item is GenerationFinished finished)
            {
                contents = reasoningParser is null ? [] : [.. Split(reasoningParser.Finish())];
                if (toolParser is not null) contents.AddRange(Contents(toolParser.Finish()));
                contents.Add(new UsageContent(Usage(call, finished.PromptTokens, finished.CompletionTokens, finished.CachedPromptTokens, reasoning.ToString())));
                var last = Update(call, contents);
                last.FinishReason = FinishReason(finished.Reason, calls > 0);
                yield return last;
            }
        }
    }

    private async Task<Call> StartAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Cancelled when the call ends however it ends, so that an abandoned call frees its sequence at once.
        var call = new Call(CancellationTokenSource.CreateLinkedTokenSource(cancellationToken));
        try
        {
            var reader = new RequestReader(ChatRequestMapping.ToRequestBody(messages, options, defaultModelId));
            var resolved = host.Resolve(reader, call.Disposables);
            var (plan, _) = ChatPlan.Read(resolved, reader, logger);
            var request = plan.Settings.ToEngineRequest(call.Id, plan.Tokens, resolved.Model.Engine.MaxSequenceTokens, "messages");
            var events = EngineSubmission.Submit(resolved, request, call.Cancellation.Token);
            await EngineSubmission.AwaitStartAsync([events], cancellationToken);
            call.Started(resolved, plan.Output, events);
            return call;
        }
        catch (ApiException ex)
        {
            call.Dispose();
            throw LocalInferenceErrors.From(ex);
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    private static ChatResponseUpdate Update(Call call, IList<AIContent> contents) => new(ChatRole.Assistant, contents)
    {
        ResponseId = call.Id,
        MessageId = call.Id,
        CreatedAt = call.Created,
        ModelId = call.Resolved.Model.Id,
    };

    /// <summary>The server's finish names are MEAI's values (stop, length, tool_calls).</summary>
    private static ChatFinishReason FinishReason(Engine.FinishReason reason, bool calledTools) =>
        new(GenerationStreams.FinishReasonName(reason, calledTools));

    private static UsageDetails Usage(Call call, int promptTokens, int completionTokens, int cachedTokens, string reasoning) => new()
    {
        InputTokenCount = promptTokens,
        OutputTokenCount = completionTokens,
        TotalTokenCount = promptTokens + completionTokens,
        CachedInputTokenCount = cachedTokens,
        ReasoningTokenCount = call.Output.Reasoning is null ? null : call.Resolved.CountTokens(reasoning),
    };

    private static FunctionCallContent FunctionCall(ToolCall call) =>
        FunctionCallContent.CreateFromParsedArguments(call.Arguments, call.Id ?? GenerationStreams.NewCallId(), call.Name,
            arguments => JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments, AIJsonUtilities.DefaultOptions));

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("InferenceServer", null, defaultModelId)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(LocalInference) ? host
        : null;

    public void Dispose()
    {
    }

    /// <summary>One call's state from its start to its end.</summary>
    private sealed class Call(CancellationTokenSource cancellation) : IDisposable
    {
        public string Id { get; } = GenerationStreams.NewId("chatcmpl");
        public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
        public CancellationTokenSource Cancellation => cancellation;
        public List<IDisposable> Disposables { get; } = [];
        public ResolvedRequest Resolved { get; private set; } = null!;
        public OutputShape Output { get; private set; } = null!;
        public ChannelReader<GenerationEvent> Events { get; private set; } = null!;

        public void Started(ResolvedRequest resolved, OutputShape output, ChannelReader<GenerationEvent> events) =>
            (Resolved, Output, Events) = (resolved, output, events);

        public void Dispose()
        {
            cancellation.Cancel();
            cancellation.Dispose();
            foreach (var disposable in Disposables) disposable.Dispose();
        }
    }
}
