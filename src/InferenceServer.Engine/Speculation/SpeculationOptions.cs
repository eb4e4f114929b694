namespace InferenceServer.Engine;

/// <summary>Where a draft came from.</summary>
public enum DraftKind { Prediction, Ngram, DraftModel }

/// <summary>
/// Speculative decoding: which drafter serves requests without a prediction, how long a draft may be, and when
/// the engine speculates at all. A request's own prediction (OpenAI's Predicted Outputs) is drafted whatever
/// <see cref="Drafter"/> says, unless the request opted out.
/// </summary>
public sealed record SpeculationOptions
{
    /// <summary>A draft never makes one sequence's share of a decode 64 tokens or more (fed token + draft &lt;= 63):
    /// below that a sequence's tokens take the same attention kernel one at a time or together (docs/determinism.md).</summary>
    public const int LargestDraft = 62;

    public static readonly SpeculationOptions Default = new();

    /// <summary>The drafter for requests without a prediction; null = speculate only on predictions.</summary>
    public DraftKind? Drafter { get; init; }

    /// <summary>The draft model, when <see cref="Drafter"/> is <see cref="DraftKind.DraftModel"/>.</summary>
    public IDraftModel? DraftModel { get; init; }

    /// <summary>The longest n-gram or draft-model draft when <see cref="MaxDraftTokens"/> is not set (llama-server's default).</summary>
    public const int DefaultDraftTokens = 16;

    /// <summary>
    /// Most draft tokens one sequence verifies in one step (llama-server's --draft-max), at most <see cref="LargestDraft"/>;
    /// 0 = never draft. Null: <see cref="DefaultDraftTokens"/> for n-gram and draft-model drafts, <see cref="LargestDraft"/>
    /// for a request's prediction. A prediction is the client saying it knows most of the answer, and on a CPU a
    /// decode of 63 tokens costs far less per token than one of 17 (1.99× against 1.70× on the benchmark's
    /// prediction-equal row, docs/speculative-decoding.md); the measured policy still verifies only as much as pays.
    /// </summary>
    public int? MaxDraftTokens { get; init; }

    /// <summary>The longest draft a drafter of <paramref name="kind"/> gets.</summary>
    public int MaxDraft(DraftKind kind) => Math.Clamp(
        MaxDraftTokens ?? (kind == DraftKind.Prediction ? LargestDraft : DefaultDraftTokens), 0, LargestDraft);

    /// <summary>
    /// Speculate only while at most this many sequences feed a token in a step: a small batch is latency-bound and
    /// verifies drafts almost for free; a full one is throughput-bound and every draft token displaces useful work.
    /// </summary>
    public int MaxBatchSequences { get; init; } = 4;

    /// <summary>
    /// True: verify a draft only as far as the measured decode times say it pays (<see cref="DecodeCostModel"/>).
    /// False: verify every draft in full, as llama-server does (for machines where a longer decode costs nothing, and tests).
    /// </summary>
    public bool Measured { get; init; } = true;
}

/// <summary>A request's drafting in numbers: <see cref="Drafted"/> tokens verified, <see cref="Accepted"/> of them kept.</summary>
public sealed record SpeculationCounts(DraftKind Kind, int Drafted, int Accepted)
{
    public int Rejected => Drafted - Accepted;
}
