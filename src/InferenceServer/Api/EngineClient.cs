using System.Threading.Channels;
using InferenceServer.Engine;
using InferenceServer.Operations;

namespace InferenceServer.Api;

/// <summary>
/// The API's one way into a model's engine (injected): admits a resolved request — all of its size limits and
/// rate charges happen here — then queues it and links it to its telemetry record. Thread-safe.
/// </summary>
internal sealed class EngineClient(Admission admission, InferenceTelemetry telemetry)
{
    /// <summary>
    /// Queues <see cref="GenerationSettings.Choices"/> choices of each request, in that order (request-major), and
    /// waits until each has started. Choice i samples with seed + i and shares its prompt's KV with its siblings.
    /// If any is refused, those already queued are cancelled. <paramref name="messages"/> is the chat's message count (0 for a plain prompt).
    /// </summary>
    public async Task<IReadOnlyList<ChannelReader<GenerationEvent>>> SubmitAllAsync(ResolvedRequest resolved, GenerationSettings settings,
        IReadOnlyList<GenerationRequest> requests, CancellationToken aborted, int messages = 0)
    {
        admission.CheckMessages(resolved, messages);
        // Must outlive this method: a stream is written after it returns, and disposing the source would cut the link to a client's abort.
        var submitted = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        resolved.DisposeAtEnd(submitted);
        var streams = new List<ChannelReader<GenerationEvent>>();
        try
        {
            foreach (var request in requests)
                for (var choice = 0; choice < settings.Choices; choice++)
                    streams.Add(Submit(resolved, settings, AsChoice(request, choice, settings.Choices), submitted.Token));
            await EngineSubmission.AwaitStartAsync(streams, aborted);
        }
        catch
        {
            await submitted.CancelAsync();
            throw;
        }
        return streams;
    }

    /// <summary>Embeds token inputs after charging them to the key's tokens-per-minute window.</summary>
    public Task<IReadOnlyList<float[]>> EmbedAsync(ResolvedRequest resolved, IReadOnlyList<int[]> inputs, CancellationToken cancellationToken)
    {
        admission.ChargeTokens(resolved.Identity, inputs.Sum(i => i.Length));
        return resolved.Model.Embeddings.EmbedAsync(inputs, cancellationToken);
    }

    private static GenerationRequest AsChoice(GenerationRequest request, int choice, int choices) => choices == 1
        ? request
        : request with
        {
            Id = $"{request.Id}-{choice}",
            Sampling = request.Sampling with { Seed = unchecked(request.Sampling.Seed + (uint)choice) },
            PrefillGroup = request.Id,
        };

    private ChannelReader<GenerationEvent> Submit(ResolvedRequest resolved, GenerationSettings settings, GenerationRequest request, CancellationToken cancellationToken)
    {
        request = admission.Admit(resolved, request, maxTokensGiven: settings.MaxTokens is not null);
        // Tracked before the engine sees it: a short request can finish before Submit returns, and its finish
        // must find its record (a refused one is forgotten when the HTTP request completes).
        var record = resolved.Record;
        if (record is not null)
        {
            record.Model = resolved.Model.Id;
            telemetry.Track(record, request.Id);
        }
        var events = EngineSubmission.Submit(resolved, request, cancellationToken);
        return record?.Completion is { } completion ? new RecordingReader(events, completion) : events;
    }

    /// <summary>Passes a stream through, keeping its text for the --log-prompts completion line.</summary>
    private sealed class RecordingReader(ChannelReader<GenerationEvent> inner, System.Text.StringBuilder text) : ChannelReader<GenerationEvent>
    {
        public override bool TryRead([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GenerationEvent item)
        {
            if (!inner.TryRead(out item)) return false;
            if (item is TextDelta delta)
                lock (text) text.Append(delta.Text);
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }
}
