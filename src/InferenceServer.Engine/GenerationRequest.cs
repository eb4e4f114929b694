namespace InferenceServer.Engine;

/// <summary>
/// A tokenized request for the engine. Validation (lengths, vocabulary) happened before it was built.
/// Requests share cached prompt KV only when their <see cref="CacheIsolationKey"/> is equal, so one
/// tenant cannot learn another's prompts from cache-hit timing. <see cref="Adapters"/> are the LoRA adapters
/// it decodes under (none by default).
/// </summary>
public sealed record GenerationRequest(
    string Id,
    int[] PromptTokens,
    int MaxNewTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> StopSequences,
    string CacheIsolationKey = "",
    bool IgnoreEndOfGeneration = false)
{
    public AdapterSet Adapters { get; init; } = AdapterSet.Base;

    /// <summary>Cached KV is shared only under the same isolation key and the same adapters: KV computed under
    /// one adapter set is wrong under another.</summary>
    internal string PrefixCacheKey => Adapters.IsBase ? CacheIsolationKey : $"{CacheIsolationKey}\nadapters:{Adapters.Key}";
}

public enum FinishReason { Stop, Length, Cancelled }

/// <summary>What a request's output stream carries.</summary>
public abstract record GenerationEvent;

/// <summary>Text that is final (never retracted): stop sequences already removed, characters never split.</summary>
public sealed record TextDelta(string Text) : GenerationEvent;

/// <summary>The last event of every request. <see cref="CachedPromptTokens"/> counts prompt tokens whose KV was reused, not computed.</summary>
public sealed record GenerationFinished(
    FinishReason Reason,
    int PromptTokens,
    int CompletionTokens,
    GenerationTimings Timings,
    int CachedPromptTokens = 0) : GenerationEvent;

/// <summary>Where a request's time went: waiting for a sequence, until its first token, and in all.</summary>
public sealed record GenerationTimings(TimeSpan QueueWait, TimeSpan? TimeToFirstToken, TimeSpan Total);
