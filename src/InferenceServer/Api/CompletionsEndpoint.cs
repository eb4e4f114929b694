using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>POST /v1/completions: legacy text completions; a prompt array yields one choice per prompt.</summary>
internal static class CompletionsEndpoint
{
    private const int MaxPrompts = 128;

    public static async Task<IResult> HandleAsync(HttpContext http, ModelRegistry models, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var model = await Generation.RequireModelAsync(http, models, reader);
        var prompts = ReadPrompts(reader);
        var settings = GenerationSettings.Read(reader, "max_tokens", model.Tokenizer.VocabularySize).WithResponseFormat(reader, model.Grammars);
        // OpenAI's legacy default is 16 tokens when max_tokens is absent.
        settings = settings with { MaxTokens = settings.MaxTokens ?? 16 };

        var id = Generation.NewId("cmpl");
        var requests = prompts.Select((prompt, i) =>
        {
            var param = prompts.Count == 1 ? "prompt" : $"prompt[{i}]";
            return settings.ToEngineRequest($"{id}-{i}", Generation.Tokenize(model, prompt, param), model.Engine.MaxSequenceTokens, param);
        }).ToList();

        // Linked so that a refused submission cancels the ones already queued. It must outlive this method:
        // a stream is written after it returns, and disposing the source would cut the link to a client's abort.
        var submitted = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        http.Response.RegisterForDispose(submitted);
        var streams = new List<ChannelReader<GenerationEvent>>();
        try
        {
            foreach (var request in requests) streams.Add(Generation.Submit(http, model, settings, request, submitted.Token));
            await Generation.AwaitStartAsync(streams, aborted);
        }
        catch
        {
            await submitted.CancelAsync();
            throw;
        }

        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (settings.Stream)
        {
            var events = StreamAsync(id, created, model.Id, streams, settings.IncludeUsage, aborted);
            return TypedResults.ServerSentEvents(Generation.WithErrorEvent(events, loggers.CreateLogger(typeof(CompletionsEndpoint)), aborted));
        }

        var results = await Task.WhenAll(streams.Select((stream, i) => Generation.GatherAsync(i, stream, aborted)));
        return TypedResults.Json(new TextCompletion(id, created, model.Id,
            results.Select(r => new TextChoice(r.Index, r.Text, Generation.FinishReasonName(r.Reason))).ToList(),
            Usage.Of(results.Sum(r => r.PromptTokens), results.Sum(r => r.CompletionTokens), results.Sum(r => r.CachedTokens))), ApiJson.Options);
    }

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, string modelId,
        IReadOnlyList<ChannelReader<GenerationEvent>> streams, bool includeUsage, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string Chunk(int index, string text, string? finish) =>
            ApiJson.Serialize(new TextCompletion(id, created, modelId, [new TextChoice(index, text, finish)]));

        int promptTokens = 0, completionTokens = 0, cachedTokens = 0;
        await foreach (var (index, item) in Generation.MergeAsync(streams, cancellationToken))
        {
            if (item is TextDelta delta)
            {
                yield return Chunk(index, delta.Text, null);
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                promptTokens += done.PromptTokens;
                completionTokens += done.CompletionTokens;
                cachedTokens += done.CachedPromptTokens;
                yield return Chunk(index, "", Generation.FinishReasonName(done.Reason));
            }
        }
        if (includeUsage)
            yield return ApiJson.Serialize(new TextCompletion(id, created, modelId, [], Usage.Of(promptTokens, completionTokens, cachedTokens)));
        yield return "[DONE]";
    }

    private static List<string> ReadPrompts(RequestReader reader) => reader.Get("prompt") switch
    {
        null => throw RequestReader.Invalid("prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter"),
        JsonValue v when v.TryGetValue(out string? single) => [single],
        JsonArray { Count: 0 } => throw RequestReader.Invalid("prompt", "'prompt' must not be an empty array."),
        JsonArray { Count: > MaxPrompts } => throw RequestReader.Invalid("prompt", $"'prompt' holds at most {MaxPrompts} prompts."),
        JsonArray array => array.Select((item, i) => item is JsonValue v && v.TryGetValue(out string? s)
            ? s
            : throw RequestReader.WrongType($"prompt[{i}]", "a string (token arrays are not supported yet)", item)).ToList(),
        var other => throw RequestReader.WrongType("prompt", "a string or an array of strings", other),
    };
}
