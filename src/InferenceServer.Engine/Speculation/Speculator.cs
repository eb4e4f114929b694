using Microsoft.Extensions.Logging;
using System.Runtime.InteropServices;

namespace InferenceServer.Engine;

/// <summary>One sequence's drafting: its drafter, the draft in this step's batch, how often its drafts are right, and its counts.</summary>
internal sealed class SpeculationState(DraftKind kind, IDrafter? drafter)
{
    // Pseudo-observations a sequence starts with, and how much each verification's past counts in the next.
    private const double PriorTrials = 4;
    private const double Decay = 0.8;
    // A prediction is the client saying what the answer is: trusted more than a guess from the text so far.
    private const double PredictionPrior = 0.95;
    private const double OtherPrior = 0.8;

    private double _trials = PriorTrials;
    private double _successes = PriorTrials * (kind == DraftKind.Prediction ? PredictionPrior : OtherPrior);

    public DraftKind Kind { get; } = kind;

    /// <summary>Its own drafter; null for the draft model, which drafts for every sequence in one batched call.</summary>
    public IDrafter? Drafter { get; } = drafter;

    /// <summary>Proposed before scheduling; the scheduler places what fits and moves it to <see cref="InFlight"/>.</summary>
    public int[] Proposed { get; set; } = [];

    /// <summary>The draft tokens in this step's batch, fed right after the sequence's own token, each with its logits row.</summary>
    public int[] InFlight { get; set; } = [];

    /// <summary>The estimated chance that a draft token is accepted given the one before it was, from recent verifications.</summary>
    public double Acceptance => _successes / _trials;

    public int Drafted { get; private set; }
    public int Accepted { get; private set; }

    // TCP's slow start for drafts: the first verified draft is at most FirstWindow tokens, a fully accepted one
    // doubles the window, a refused one restarts it at twice what was accepted. A draft refused at its first token (a
    // prediction whose first word tokenises otherwise than the model writes it) then costs a decode of 9 tokens, not
    // of 63: on a CPU a fifth of the time (docs/speculative-decoding.md).
    private const int FirstWindow = 8;

    /// <summary>The longest draft the measured policy may verify next.</summary>
    public int Window { get; private set; } = FirstWindow;

    public SpeculationCounts Counts => new(Kind, Drafted, Accepted);

    public void Verified(int drafted, int accepted)
    {
        Drafted += drafted;
        Accepted += accepted;
        Window = accepted == drafted ? Math.Max(Window, 2 * drafted) : Math.Max(FirstWindow, 2 * accepted);
        Learn(drafted, accepted);
    }

    private void Learn(int drafted, int accepted)
    {
        _successes = Decay * _successes + accepted;
        _trials = Decay * _trials + accepted + (accepted < drafted ? 1 : 0);
    }

    // A proposal the policy did not verify (its first tokens, enough to tell a drafter worth trusting again within a
    // few steps), and the history position of its first token.
    private const int UnverifiedWindow = 8;
    private int[] _unverified = [];
    private int _unverifiedAt;

    /// <summary>
    /// Keeps a proposal the policy judged not worth verifying, to be checked against what the sequence generates.
    /// Verification samples the target as generation does, so the tokens that follow are exactly what verifying it
    /// would have accepted: evidence at no cost, and the way back for a drafter that was wrong once (a prediction whose
    /// first word tokenises otherwise) and right since, which would otherwise never be verified again.
    /// </summary>
    public void Unverified(ReadOnlySpan<int> proposal, int position)
    {
        if (_unverified.Length > 0 || proposal.IsEmpty) return;
        _unverified = proposal[..Math.Min(proposal.Length, UnverifiedWindow)].ToArray();
        _unverifiedAt = position;
    }

    /// <summary>Checks a kept proposal against <paramref name="history"/> once its outcome is known (a token differs, or all were generated).</summary>
    public void Watch(ReadOnlySpan<int> history)
    {
        if (_unverified.Length == 0) return;
        var known = Math.Min(history.Length - _unverifiedAt, _unverified.Length);
        var matched = 0;
        while (matched < known && history[_unverifiedAt + matched] == _unverified[matched]) matched++;
        if (matched == known && known < _unverified.Length) return;
        Learn(_unverified.Length, matched);
        _unverified = [];
    }

    /// <summary>
    /// Asked for a draft, the drafter proposed nothing (a draft model below its min-p): for the estimate, a refused
    /// token, since the drafting cost time for nothing; not counted as drafted.
    /// </summary>
    public void Missed()
    {
        _successes = Decay * _successes;
        _trials = Decay * _trials + 1;
    }

    /// <summary>The expected accepted tokens of a draft of <paramref name="length"/>: each is accepted with <see cref="Acceptance"/> if the one before it was.</summary>
    public double ExpectedAccepted(int length)
    {
        var p = Math.Min(Acceptance, 0.999);
        return p * (1 - Math.Pow(p, length)) / (1 - p);
    }
}

/// <summary>
/// Speculative decoding inside continuous batching. Before a step it proposes drafts for the sequences that will
/// feed a token (<see cref="Propose"/>), as long as the measured decode costs say they pay; the scheduler puts each sequence's draft right after its own token, with
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
internal sealed class Speculator(SpeculationOptions options, IKvCacheOperations kv, Func<int, byte[]> pieces, ILogger logger)
{
    private readonly int[] _draft = new int[SpeculationOptions.LargestDraft];
    // Reused for every sequence's history: its fed tokens and the one it feeds next.
    private int[] _history = new int[256];
    // This step's draft-model requests, drafted together.
    private readonly List<(SpeculationState State, DraftRequest Request)> _modelDrafts = [];
    private readonly DecodeCostModel _costs = new();
    private readonly HashSet<SequenceSlot> _slots = [];
    // The draft model's last measured time per drafted token (0 until measured: the first draft is the measurement).
    private double _draftModelSecondsPerToken;

    /// <summary>The drafting state a new sequence gets, or null when nothing drafts for it.</summary>
    public SpeculationState? Begin(GenerationRequest request)
    {
        if (!request.Speculate || options.MaxDraftTokens == 0) return null;
        if (request.Prediction is { Length: > 0 } prediction) return new SpeculationState(DraftKind.Prediction, new PredictionDrafter(prediction, pieces));
        return options.Drafter switch
        {
            DraftKind.Ngram => new SpeculationState(DraftKind.Ngram, new NgramDrafter()),
            DraftKind.DraftModel when options.DraftModel is not null => new SpeculationState(DraftKind.DraftModel, null),
            _ => null,
        };
    }

    /// <summary>The sequence ended: the draft model frees what it held for its slot.</summary>
    public void End(Sequence sequence)
    {
        if (sequence.Speculation?.Kind == DraftKind.DraftModel && sequence.Status != SequenceStatus.Waiting) options.DraftModel!.Release(sequence.Slot);
    }

    /// <summary>
    /// Proposes a draft for each sequence that feeds a token next step, when few do, and only as long a draft as pays
    /// (<see cref="DraftLength"/>).
    /// </summary>
    public void Propose(IEnumerable<Sequence> admitted)
    {
        var feeding = 0;
        foreach (var sequence in admitted)
        {
            if (sequence.Speculation is { } state) state.Proposed = [];
            if (FeedsNext(sequence)) feeding++;
        }
        if (feeding > options.MaxBatchSequences) return;
        // The step as planned so far: how many tokens it decodes and how many it is expected to output.
        var batch = new StepEstimate(feeding, feeding);
        foreach (var sequence in admitted)
        {
            if (sequence.Speculation is not { } state || !FeedsNext(sequence)) continue;
            // Generating the last allowed token needs no draft: the fed token's own logits give it.
            var room = Math.Min(Math.Min(options.MaxDraft(state.Kind), options.Measured ? state.Window : int.MaxValue),
                sequence.Request.MaxNewTokens - sequence.GeneratedTokens - 1);
            if (state.Drafter is null)
            {
                var length = DraftLength(state, batch, room, _draftModelSecondsPerToken);
                if (length == 0) continue;
                _modelDrafts.Add((state, new DraftRequest(sequence.Slot, History(sequence).ToArray(), length)));
                batch = batch.With(length, state.ExpectedAccepted(length));
                continue;
            }
            if (room <= 0) continue;
            var history = History(sequence);
            state.Watch(history);
            var count = state.Drafter.Propose(history, sequence.GeneratedTokens, _draft.AsSpan(0, room));
            var kept = DraftLength(state, batch, count, 0);
            if (kept == 0) state.Unverified(_draft.AsSpan(0, count), history.Length);
            state.Proposed = _draft.AsSpan(0, kept).ToArray();
            batch = batch.With(kept, state.ExpectedAccepted(kept));
        }
        if (_modelDrafts.Count > 0) DraftWithModel();
    }

    /// <summary>What a step decodes and how many tokens it is expected to output.</summary>
    private readonly record struct StepEstimate(int Tokens, double Output)
    {
        public StepEstimate With(int draft, double accepted) => new(Tokens + draft, Output + accepted);
    }

    /// <summary>
    /// The draft length, at most <paramref name="available"/>, that maximises the step's expected output per second
    /// (measured decode times, the sequence's acceptance so far), or 0 when no length makes the step at least 5%
    /// faster per token than without the draft: so a draft that does not pay is not verified.
    /// </summary>
    private int DraftLength(SpeculationState state, StepEstimate batch, int available, double draftSecondsPerToken)
    {
        if (!options.Measured) return available;
        if (_costs.Seconds(batch.Tokens) is not { } without) return 0;
        var withoutRate = batch.Output / without;
        var (best, bestRate) = (0, withoutRate * 1.05);
        for (var length = 1; length <= available; length = length < available && 2 * length > available ? available : 2 * length)
        {
            if (_costs.Seconds(batch.Tokens + length) is not { } seconds) break;
            var rate = (batch.Output + state.ExpectedAccepted(length)) / (seconds + length * draftSecondsPerToken);
            if (rate > bestRate) (best, bestRate) = (length, rate);
        }
        return best;
    }

    private void DraftWithModel()
    {
        var started = Environment.TickCount64;
        try
        {
            options.DraftModel!.Draft(_modelDrafts.Select(d => d.Request).ToList());
            foreach (var (state, request) in _modelDrafts)
            {
                state.Proposed = request.Draft;
                if (request.Draft.Length == 0) state.Missed();
            }
            var tokens = _modelDrafts.Sum(d => Math.Max(1, d.Request.Draft.Length));
            _draftModelSecondsPerToken = (Environment.TickCount64 - started) / 1000.0 / tokens;
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
    /// A decode took <paramref name="elapsed"/>: what the policy's cost model learns from, when its batch was one the
    /// policy could speculate in (decodes of many sequences attend over many histories and cost more per token) and
    /// read the logits of every token, as a verification does. A prompt chunk reads one row for many tokens, and each
    /// row costs (the output layer: about 0.27 ms on the 125M model on a CPU, a quarter of a token's decode), so
    /// chunks would teach the policy that verifying is cheaper than it is and keep it verifying drafts that lose.
    /// </summary>
    public void Decoded(IReadOnlyList<BatchToken> batch, TimeSpan elapsed)
    {
        _slots.Clear();
        foreach (var token in batch)
        {
            if (!token.WantLogits) return;
            if (_slots.Add(token.Slot) && _slots.Count > options.MaxBatchSequences) return;
        }
        _costs.Observe(batch.Count, elapsed);
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
        state.Verified(drafted, accepted);
        state.Drafter?.Settled(drafted, accepted);
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
