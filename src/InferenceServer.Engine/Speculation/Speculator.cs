using Microsoft.Extensions.Logging;
using System.Runtime.InteropServices;

namespace InferenceServer.Engine;

/// <summary>One sequence's drafting: its drafter, the draft in this step's batch, how long drafts may be now, and its counts.</summary>
internal sealed class SpeculationState(DraftKind kind, IDrafter? drafter, int maxDraft)
{
    public DraftKind Kind { get; } = kind;

    /// <summary>Its own drafter; null for the draft model, which drafts for every sequence in one batched call.</summary>
    public IDrafter? Drafter { get; } = drafter;

    /// <summary>Proposed before scheduling; the scheduler places what fits and moves it to <see cref="InFlight"/>.</summary>
    public int[] Proposed { get; set; } = [];

    /// <summary>The draft tokens in this step's batch, fed right after the sequence's own token, each with its logits row.</summary>
    public int[] InFlight { get; set; } = [];

    /// <summary>
    /// How many tokens the next draft may have: doubled after a draft is wholly accepted, cut to what was accepted
    /// plus one after a rejection, so a sequence the drafter reads badly verifies little.
    /// </summary>
    public int Window { get; set; } = Math.Min(4, maxDraft);

    public int MaxDraft { get; } = maxDraft;

    /// <summary>Drafts in a row with nothing accepted; the sequence then pauses drafting for 2^misses steps.</summary>
    public int Misses { get; set; }
    public int PausedSteps { get; set; }

    public int Drafted { get; set; }
    public int Accepted { get; set; }

    public SpeculationCounts Counts => new(Kind, Drafted, Accepted);
}

/// <summary>
/// Speculative decoding inside continuous batching. Before a step it proposes drafts for the sequences that will
/// feed a token (<see cref="Propose"/>); the scheduler puts each sequence's draft right after its own token, with
/// logits at every position; the engine's sample phase samples the target at each position and stops at the first
/// one whose sample differs from the draft; <see cref="Settle"/> then removes the rejected cells.
///
/// Why per-position sampling rather than Leviathan et al.'s rejection sampling: every drafter here proposes one
/// token per position (a prediction, an n-gram's continuation), i.e. a draft distribution that is a point mass,
/// for which rejection sampling accepts token x with probability p(x), exactly as sampling the target and comparing
/// does. Sampling the target is also what the request does without speculation, draw for draw: a greedy or seeded
/// request gives the same tokens with and without a draft, and every sampler (grammar, penalties, bias) works
/// unchanged because it only ever sees tokens that were kept.
///
/// Invariants:
/// - A sequence's <see cref="Sequence.FedTokens"/> hold exactly its KV cells after <see cref="Settle"/>: rejected
///   draft cells are removed from its own sequence id (positions at and after the first rejected one) before any
///   token of the step becomes output, so the prefix cache, which copies from FedTokens, never holds a rejected token.
/// - A draft stays inside the sequence's reservation (it never drafts past its last allowed token) and below
///   64 tokens per sequence per decode.
/// Engine loop thread only.
/// </summary>
internal sealed class Speculator(SpeculationOptions options, IKvCacheOperations kv, ILogger logger)
{
    private readonly int _maxDraft = Math.Clamp(options.MaxDraftTokens, 0, SpeculationOptions.LargestDraft);
    private readonly int[] _draft = new int[SpeculationOptions.LargestDraft];
    // Reused for every sequence's history: its fed tokens and the one it feeds next.
    private int[] _history = new int[256];
    // This step's draft-model requests, drafted together.
    private readonly List<(SpeculationState State, DraftRequest Request)> _modelDrafts = [];

    /// <summary>The drafting state a new sequence gets, or null when nothing drafts for it.</summary>
    public SpeculationState? Begin(GenerationRequest request)
    {
        if (!request.Speculate || _maxDraft == 0) return null;
        if (request.Prediction is { Length: > 0 } prediction) return new SpeculationState(DraftKind.Prediction, new PredictionDrafter(prediction), _maxDraft);
        return options.Drafter switch
        {
            DraftKind.Ngram => new SpeculationState(DraftKind.Ngram, new NgramDrafter(), _maxDraft),
            DraftKind.DraftModel when options.DraftModel is not null => new SpeculationState(DraftKind.DraftModel, null, _maxDraft),
            _ => null,
        };
    }

    /// <summary>The sequence ended: the draft model frees what it held for its slot.</summary>
    public void End(Sequence sequence)
    {
        if (sequence.Speculation?.Kind == DraftKind.DraftModel && sequence.Status != SequenceStatus.Waiting) options.DraftModel!.Release(sequence.Slot);
    }

    /// <summary>Proposes a draft for each sequence that feeds a token next step, when few do (the policy).</summary>
    public void Propose(IEnumerable<Sequence> admitted)
    {
        var feeding = 0;
        foreach (var sequence in admitted)
            if (FeedsNext(sequence)) feeding++;
        var speculate = feeding <= options.MaxBatchSequences;
        foreach (var sequence in admitted)
        {
            if (sequence.Speculation is not { } state) continue;
            state.Proposed = [];
            if (!speculate || !FeedsNext(sequence)) continue;
            if (state.PausedSteps > 0)
            {
                state.PausedSteps--;
                continue;
            }
            // Generating the last allowed token needs no draft: the fed token's own logits give it.
            var room = Math.Min(state.Window, sequence.Request.MaxNewTokens - sequence.GeneratedTokens - 1);
            if (room <= 0) continue;
            if (state.Drafter is null)
            {
                _modelDrafts.Add((state, new DraftRequest(sequence.Slot, History(sequence).ToArray(), room)));
                continue;
            }
            var count = state.Drafter.Propose(History(sequence), sequence.GeneratedTokens, _draft.AsSpan(0, room));
            state.Proposed = _draft.AsSpan(0, count).ToArray();
        }
        if (_modelDrafts.Count == 0) return;
        try
        {
            options.DraftModel!.Draft(_modelDrafts.Select(d => d.Request).ToList());
            foreach (var (state, request) in _modelDrafts) state.Proposed = request.Draft;
        }
        catch (Exception ex)
        {
            // A failed draft costs this step its drafts, nothing more: the target decodes as without speculation.
            logger.LogWarning(ex, "The draft model failed; this step decodes without drafts");
            foreach (var (_, request) in _modelDrafts) options.DraftModel!.Release(request.Slot);
        }
        _modelDrafts.Clear();
    }

    /// <summary>
    /// After the sample phase: <paramref name="accepted"/> of the sequence's draft tokens matched what the target
    /// sampled. Removes the cells of the rest and counts.
    /// </summary>
    public void Settle(Sequence sequence, int accepted)
    {
        var state = sequence.Speculation!;
        var drafted = state.InFlight.Length;
        var rejected = drafted - accepted;
        if (rejected > 0)
        {
            var keep = sequence.NextPosition - rejected;
            kv.Remove(sequence.Slot, keep, int.MaxValue);
            sequence.FedTokens.RemoveRange(sequence.FedTokens.Count - rejected, rejected);
            sequence.NextPosition = keep;
        }
        state.InFlight = [];
        state.Drafted += drafted;
        state.Accepted += accepted;
        state.Drafter?.Settled(accepted);
        state.Window = accepted == drafted ? Math.Min(state.MaxDraft, 2 * state.Window) : Math.Max(1, accepted + 1);
        state.Misses = accepted == 0 ? state.Misses + 1 : 0;
        if (state.Misses > 0) state.PausedSteps = (1 << Math.Min(state.Misses, 6)) - 1;
    }

    /// <summary>Whether the next schedule feeds this sequence a token whose logits are sampled.</summary>
    private static bool FeedsNext(Sequence sequence) =>
        sequence.Status == SequenceStatus.Decoding
        || sequence.Status == SequenceStatus.Prefilling && sequence.PromptCursor == sequence.PromptLength - 1;

    /// <summary>Every token of the sequence, the one it feeds next last.</summary>
    private ReadOnlySpan<int> History(Sequence sequence)
    {
        if (sequence.Status == SequenceStatus.Prefilling) return sequence.Request.PromptTokens;
        var fed = sequence.FedTokens.Count;
        if (_history.Length <= fed) _history = new int[Math.Max(2 * _history.Length, fed + 1)];
        CollectionsMarshal.AsSpan(sequence.FedTokens).CopyTo(_history);
        _history[fed] = sequence.PendingToken;
        return _history.AsSpan(0, fed + 1);
    }
}
