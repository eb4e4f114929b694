using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>POST /v1/completions: legacy text completions; a prompt array yields one choice per prompt.</summary>
internal static class CompletionsEndpoint
{
    private const int MaxPrompts = 128;

    public static async Task<IResult> HandleAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var reader = await RequestReader.ReadAsync(http.Request, aborted);
        var resolved = await resolver.ResolveAsync(http, reader);
        var model = resolved.Model;
        var prompts = PromptInput.Read(reader, "prompt", MaxPrompts, model.Tokenizer.VocabularySize);
        var settings = GenerationSettings.Read(reader, "max_tokens", model.Tokenizer.VocabularySize)
            .WithResponseFormat(reader, model.Grammars).WithLegacyLogprobs(reader).WithPrediction(reader, resolved);
        // OpenAI's legacy default is 16 tokens when max_tokens is absent.
        settings = settings with { MaxTokens = settings.MaxTokens ?? 16 };

        var id = GenerationStreams.NewId("cmpl");
        var requests = prompts.Select((prompt, i) =>
        {
            var param = prompts.Count == 1 ? "prompt" : $"prompt[{i}]";
            var tokens = prompt.Tokens ?? resolved.Tokenize(prompt.Text!, param);
            return settings.ToEngineRequest($"{id}-{i}", tokens, model.Engine.MaxSequenceTokens, param);
        }).ToList();
        var streams = await engine.SubmitAllAsync(resolved, settings, requests, aborted);
        var echoes = prompts.Select((prompt, i) => !settings.Echo ? "" : prompt.Text ?? model.Tokenizer.Detokenize(requests[i].PromptTokens)).ToList();
        // Choice k is choice k % n of prompt k / n, as at OpenAI.
        var choices = streams.Select((stream, k) => new ChoiceSource(stream, requests[k / settings.Choices].PromptTokens, echoes[k / settings.Choices])).ToList();

        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (settings.Stream)
        {
            var events = StreamAsync(id, created, model, choices, settings, aborted);
            return TypedResults.ServerSentEvents(GenerationStreams.WithErrorEvent(events, loggers.CreateLogger(typeof(CompletionsEndpoint)), aborted));
        }

        var results = await Task.WhenAll(choices.Select((choice, k) => GenerationStreams.GatherAsync(k, choice.Events, aborted)));
        var textChoices = results.Select(result =>
        {
            var choice = choices[result.Index];
            TextLogprobs? logprobs = null;
            if (settings.Logprobs is not null)
            {
                var builder = new TextLogprobsBuilder(model.Tokenizer);
                if (settings.Echo) builder.AddPrompt(choice.PromptTokens, result.PromptLogprobs, choice.EchoText.Length);
                foreach (var token in result.Logprobs) builder.Add(token);
                logprobs = builder.Take();
            }
            return new TextChoice(result.Index, choice.EchoText + result.Text, GenerationStreams.FinishReasonName(result.Reason), logprobs);
        }).ToList();
        // Each prompt is counted once, however many choices it has.
        var firstChoices = results.Where(r => r.Index % settings.Choices == 0).ToList();
        return ApiJson.Whole(new TextCompletion(id, created, model.Id, textChoices,
            Usage.Of(firstChoices.Sum(r => r.PromptTokens), results.Sum(r => r.CompletionTokens), firstChoices.Sum(r => r.CachedTokens),
                prediction: PredictedOutput.Usage(settings, results.Select(r => r.Speculation)))));
    }

    /// <summary>One choice's stream, the prompt it continues, and the text echoed before its completion (empty without echo).</summary>
    private sealed record ChoiceSource(ChannelReader<GenerationEvent> Events, int[] PromptTokens, string EchoText);

    private static async IAsyncEnumerable<string> StreamAsync(string id, long created, ServedModel model,
        IReadOnlyList<ChoiceSource> choices, GenerationSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string Chunk(int index, string text, string? finish, TextLogprobs? logprobs) =>
            ApiJson.Serialize(new TextCompletion(id, created, model.Id, [new TextChoice(index, text, finish, logprobs)]));

        var builders = choices.Select(_ => settings.Logprobs is null ? null : new TextLogprobsBuilder(model.Tokenizer)).ToArray();
        // Without prompt logprobs the echo goes out first; with them it waits for the prompt's scores.
        for (var k = 0; k < choices.Count; k++)
            if (settings.Echo && builders[k] is null) yield return Chunk(k, choices[k].EchoText, null, null);

        int promptTokens = 0, completionTokens = 0, cachedTokens = 0;
        var speculation = new List<SpeculationCounts?>();
        await foreach (var (index, item) in GenerationStreams.MergeAsync(choices.Select(c => c.Events).ToList(), cancellationToken))
        {
            var builder = builders[index];
            switch (item)
            {
                case PromptLogprobs prompt when builder is not null:
                    builder.AddPrompt(choices[index].PromptTokens, prompt.Tokens, choices[index].EchoText.Length);
                    yield return Chunk(index, choices[index].EchoText, null, builder.Take());
                    break;
                case TextDelta delta:
                    if (builder is not null && delta.Logprobs is not null)
                        foreach (var token in delta.Logprobs) builder.Add(token);
                    yield return Chunk(index, delta.Text, null, builder?.Take());
                    break;
                case GenerationFinished done:
                    if (done.Reason == FinishReason.Cancelled) yield break;
                    if (index % settings.Choices == 0)
                    {
                        promptTokens += done.PromptTokens;
                        cachedTokens += done.CachedPromptTokens;
                    }
                    completionTokens += done.CompletionTokens;
                    speculation.Add(done.Speculation);
                    yield return Chunk(index, "", GenerationStreams.FinishReasonName(done.Reason), builder?.Take());
                    break;
            }
        }
        if (settings.IncludeUsage)
            yield return ApiJson.Serialize(new TextCompletion(id, created, model.Id, [], Usage.Of(promptTokens, completionTokens, cachedTokens,
                prediction: PredictedOutput.Usage(settings, speculation))));
        yield return "[DONE]";
    }
}
