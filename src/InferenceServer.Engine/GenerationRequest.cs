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

    /// <summary>Report each generated token's <see cref="TokenLogprob"/> with this many alternatives; null = none.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Report the log probability of every prompt token after the first (legacy completions' echo). Such a request computes its whole prompt: cached KV has no logits.</summary>
    public bool PromptLogprobs { get; init; }

    /// <summary>
    /// Requests with the same group are choices of one prompt (<c>n</c> &gt; 1): each waits for a sibling that is
    /// computing their shared prompt and then shares its cached KV, however short the prompt.
    /// </summary>
    public string? PrefillGroup { get; init; }

    /// <summary>The expected output's tokens (OpenAI's Predicted Outputs): drafted and verified, never output unverified.</summary>
    public int[]? Prediction { get; init; }

    /// <summary>False: never speculate for this request (no prediction, no server drafter).</summary>
    public bool Speculate { get; init; } = true;
}

public enum FinishReason { Stop, Length, Cancelled }

/// <summary>What a request's output stream carries.</summary>
public abstract record GenerationEvent;

/// <summary>Text that is final (never retracted): stop sequences already removed, characters never split.
/// <see cref="Logprobs"/> (when asked for) covers the tokens whose text this delta completes.</summary>
public sealed record TextDelta(string Text, IReadOnlyList<TokenLogprob>? Logprobs = null) : GenerationEvent;

/// <summary>The log probability of each prompt token after the first, sent once the prompt is computed (<see cref="GenerationRequest.PromptLogprobs"/>).</summary>
public sealed record PromptLogprobs(IReadOnlyList<TokenLogprob> Tokens) : GenerationEvent;

/// <summary>The last event of every request. <see cref="CachedPromptTokens"/> counts prompt tokens whose KV was reused, not computed.</summary>
public sealed record GenerationFinished(
    FinishReason Reason,
    int PromptTokens,
    int CompletionTokens,
    GenerationTimings Timings,
    int CachedPromptTokens = 0) : GenerationEvent
{
    /// <summary>What speculative decoding drafted for the request and kept; null when nothing drafted for it.</summary>
    public SpeculationCounts? Speculation { get; init; }

    /// <summary>The stop sequence that ended the output; null when it ended otherwise (end of generation, length, cancel).</summary>
    public string? StopSequence { get; init; }
}

/// <summary>Where a request's time went: waiting for a sequence, until its first token, and in all.</summary>
public sealed record GenerationTimings(TimeSpan QueueWait, TimeSpan? TimeToFirstToken, TimeSpan Total);
