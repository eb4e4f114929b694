using System.Diagnostics;

namespace InferenceServer.Engine;

/// <summary>The tokens of one decode, the adapters it runs under, and which sequences sample from which logits row afterwards.
/// <see cref="PromptRows"/> are prompt tokens whose logits row scores the next prompt token (<see cref="GenerationRequest.PromptLogprobs"/>).</summary>
internal sealed record StepPlan(IReadOnlyList<BatchToken> Batch, IReadOnlyList<(Sequence Sequence, int BatchIndex)> Samples, IReadOnlyList<Sequence> Prefilled,
    IReadOnlyList<(Sequence Sequence, int BatchIndex)> PromptRows, AdapterSet Adapters)
{
    public bool IsEmpty => Batch.Count == 0;

    /// <summary>Throw-away tokens in streams no sequence of this step feeds (see <see cref="Scheduler.OrderForStreams"/>); their cells are removed after the decode.</summary>
    public IReadOnlyList<BatchToken> Fillers { get; init; } = [];
}

/// <summary>Prefix-cache counters since start.</summary>
public sealed record PrefixCacheStats(long QueriedTokens, long HitTokens, long Evictions, int CachedCells);

/// <summary>
/// Decides what each engine step decodes and who holds which KV cells. Holds no model, thread or clock:
/// the engine loop calls <see cref="Admit"/> and <see cref="Schedule"/>, decodes the plan, reports it with
/// <see cref="Decoded"/>, samples, and ends sequences with <see cref="Release"/>.
///
/// Invariants:
/// - A slot belongs to at most one admitted sequence; free slots + admitted sequences = MaxSequences.
/// - Cells held by the prefix cache plus cells reserved by admitted sequences never exceed ContextCells,
///   so a decode never runs out of KV. A sequence reserves its prompt plus every token it may generate,
///   less what it shares through the cache.
/// - Admission is FIFO: a waiting request is never overtaken by a later one (no starvation). Admission
///   ignores adapters: every adapter set draws from the same slots and cells.
/// - A step decodes the sequences of ONE adapter set (a group): llama.cpp applies adapters to the whole
///   context, not to one sequence. The group served longest ago goes next (ties: the one holding the
///   oldest admitted sequence), so with G groups running every group advances at least once in G steps,
///   and requests with the same set batch together. With one group (the usual case: no adapters) every
///   step serves everyone.
/// - Within the step's group, every step feeds the pending token of every decoding sequence before any
///   prompt chunk, so running streams advance whenever their group does; prompt chunks fill what is left
///   of the token budget, oldest first.
/// - Cached KV is keyed by isolation key AND adapter set: KV computed under one set is never
///   attached to a sequence of another.
/// - With a KV stream per sequence (<see cref="ModelLimits.StreamPerSequence"/>), a slot's stream outlives its
///   request: a finished request's tokens stay resident until the slot is given to another request, which
///   keeps the longest resident prefix it shares and drops the rest. A new request takes the free slot that
///   shares most of its prompt (else the one used least recently), or a copy of a running sequence's stream
///   when that shares more. Every reused cell was computed by the same kernels a cold request would use
///   (per-sequence attention, chunks below 64 queries), so reuse never changes an output.
/// - A batch never holds more than BatchTokens tokens, nor more than one chunk per sequence.
/// - A sequence's draft tokens (speculative decoding) follow its fed token in the batch, each with logits, within
///   what the batch has left once every fed token of the step is counted: drafts never crowd out a running stream.
/// - At least one prompt token is always decoded, so the first sampled token has logits: the last one,
///   in a later step than the rest of its prompt.
/// - A request that wants prompt logprobs attaches no cached prefix: it computes every prompt token.
/// </summary>
internal sealed class Scheduler
{
    /// <summary>A request waits while a running prefill will soon cache at least this many more of its prompt tokens.</summary>
    private const int SharedPrefillWorthWaiting = 32;

    /// <summary>
    /// The longest prompt chunk of one sequence in one decode when sequences have their own streams and decodes are
    /// not batch-invariant (<see cref="ModelLimits.BatchInvariant"/>; f16 keys and values, or K-quant weights): 64 or more queries take ggml's tiled attention kernel, whose
    /// rounding depends on where the chunk starts; below that, chunk boundaries (and so load and cache hits) cannot
    /// change a logit (docs/determinism.md).
    /// </summary>
    internal const int LargestUntiledChunk = 63;

    private readonly ModelLimits _limits;
    private readonly IKvCacheOperations _kv;
    private readonly PrefixCache? _cache;
    private readonly int _maxPrefillChunk;
    /// <summary>A prompt's last token goes with its chunk instead of in a step of its own (batch-invariant decodes, own streams).</summary>
    private readonly bool _lastTokenWithChunk;
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _admitted = new();
    private readonly List<SequenceSlot> _freeSlots = new();
    /// <summary>With a stream per sequence and caching on: what each free slot's stream still holds, by slot id.</summary>
    private readonly ResidentPrefix[]? _resident;
    private long _residentEvictions;
    // Admission rounds so far: the prefix cache's recency clock (a node used in a later round is more recent).
    private long _admissionRound;
    private long _steps;
    /// <summary>The step at which each running adapter set was last decoded; absent = not yet.</summary>
    private readonly Dictionary<AdapterSet, long> _groupServedAt = new();
    private long _queriedTokens;
    private long _hitTokens;

    public Scheduler(ModelLimits limits, IKvCacheOperations kv, bool prefixCaching = true, int maxPrefillChunk = int.MaxValue)
    {
        _limits = limits;
        _kv = kv;
        _maxPrefillChunk = limits.StreamPerSequence && !limits.BatchInvariant ? Math.Min(maxPrefillChunk, LargestUntiledChunk) : maxPrefillChunk;
        _lastTokenWithChunk = limits.StreamPerSequence && limits.BatchInvariant;
        for (var slot = limits.MaxSequences - 1; slot >= 0; slot--) _freeSlots.Add(new SequenceSlot(slot));
        if (prefixCaching && limits.StreamPerSequence)
            _resident = Enumerable.Repeat(ResidentPrefix.Empty, limits.MaxSequences).ToArray();
        else if (prefixCaching && limits.SequenceIds > limits.MaxSequences)
            _cache = new PrefixCache(kv, Enumerable.Range(limits.MaxSequences, limits.SequenceIds - limits.MaxSequences).Select(id => new SequenceSlot(id)));
    }

    public int WaitingCount => _waiting.Count;
    public int RunningCount => _admitted.Count;

    /// <summary>Cells reserved by running sequences, beyond what they share through the cache.</summary>
    public int ReservedCells { get; private set; }

    public int CachedCells => _cache?.CachedCells ?? ResidentCells();

    private int ResidentCells()
    {
        if (_resident is null) return 0;
        var cells = 0;
        foreach (var slot in _freeSlots) cells += _resident[slot.Value].Tokens.Length;
        return cells;
    }
    public IEnumerable<Sequence> Admitted => _admitted;
    public IEnumerable<Sequence> Waiting => _waiting;
    public PrefixCacheStats CacheStats => new(_queriedTokens, _hitTokens, _cache?.Evictions ?? _residentEvictions, CachedCells);

    public void Enqueue(Sequence sequence)
    {
        if (sequence.TotalCells > _limits.ContextCells)
            throw new ArgumentException("A request's reservation cannot exceed the context.", nameof(sequence));
        _waiting.AddLast(sequence);
    }

    /// <summary>Admits what fits, in arrival order, attaching each one's longest cached prefix; returns the newly admitted.</summary>
    public IReadOnlyList<Sequence> Admit()
    {
        _admissionRound++;
        var admitted = new List<Sequence>();
        while (_waiting.First is { } node && _freeSlots.Count > 0 && TryAdmit(node.Value))
        {
            _waiting.RemoveFirst();
            admitted.Add(node.Value);
        }
        AssertBudget();
        return admitted;
    }

    private bool TryAdmit(Sequence sequence) => _limits.StreamPerSequence ? TryAdmitToOwnStream(sequence) : TryAdmitToSharedCells(sequence);

    /// <summary>Admission with a KV stream per sequence: the slot whose resident tokens, or a copy of a running stream, give the longest reuse.</summary>
    private bool TryAdmitToOwnStream(Sequence sequence)
    {
        var prompt = sequence.Request.PromptTokens;
        var key = sequence.Request.PrefixCacheKey;
        var reuse = _resident is not null && !sequence.Request.PromptLogprobs;
        // The last prompt token is always computed: it gives the first token's logits.
        var reusable = prompt.AsSpan(..^1);

        // Without a match worth taking over another conversation's slot for, the least recently used slot (an empty one first).
        var chosen = LeastRecentlyUsedFreeSlot();
        var kept = reuse ? _resident![_freeSlots[chosen].Value].SharedWith(key, reusable) : 0;
        Sequence? copyFrom = null;
        if (reuse)
        {
            for (var i = 0; i < _freeSlots.Count; i++)
            {
                var resident = _resident![_freeSlots[i].Value];
                var shared = resident.SharedWith(key, reusable);
                if (shared > kept && WorthTakingOver(shared, reusable.Length, resident.Tokens.Length)) (chosen, kept) = (i, shared);
            }
            foreach (var running in _admitted)
            {
                if (running.Request.PrefixCacheKey != key) continue;
                var shared = PrefixCache.CommonPrefix(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(running.FedTokens), reusable);
                if (shared > kept && WorthTakingOver(shared, reusable.Length, int.MaxValue)) (copyFrom, kept) = (running, shared);
            }
            var prefilling = LongestRunningPrefill(sequence);
            if (WorthTakingOver(prefilling, reusable.Length, int.MaxValue) && kept + WorthWaiting(sequence) <= prefilling) return false;
        }

        if (copyFrom is not null)
        {
            // A slot that keeps nothing of its own is the cheapest to overwrite: take the least recently used one.
            chosen = LeastRecentlyUsedFreeSlot();
            _kv.CopyStream(copyFrom.Slot, _freeSlots[chosen]);
        }
        var slot = _freeSlots[chosen];
        _freeSlots.RemoveAt(chosen);
        if (_resident is not null)
        {
            // The slot's own resident tokens past what stays are lost (all of them when the stream is a copy).
            if (_resident[slot.Value].Tokens.Length > (copyFrom is null ? kept : 0)) _residentEvictions++;
            _resident[slot.Value] = ResidentPrefix.Empty;
        }
        _kv.Remove(slot, kept, int.MaxValue);

        sequence.Slot = slot;
        sequence.Status = SequenceStatus.Prefilling;
        sequence.PrivateReservation = sequence.TotalCells - kept;
        ReservedCells += sequence.PrivateReservation;
        _admitted.Add(sequence);
        sequence.CachedTokens = kept;
        sequence.PromptCursor = sequence.NextPosition = kept;
        sequence.FedTokens.AddRange(prompt.AsSpan(0, kept));
        _queriedTokens += prompt.Length;
        _hitTokens += kept;
        return true;
    }

    private int LeastRecentlyUsedFreeSlot()
    {
        var oldest = 0;
        if (_resident is null) return oldest;
        for (var i = 1; i < _freeSlots.Count; i++)
        {
            var (used, oldestUsed) = (_resident[_freeSlots[i].Value].LastUsed, _resident[_freeSlots[oldest].Value].LastUsed);
            // Ties go to the lower slot, which keeps running sequences' ids close together (see OrderForStreams).
            if (used < oldestUsed || (used == oldestUsed && _freeSlots[i].Value < _freeSlots[oldest].Value)) oldest = i;
        }
        return oldest;
    }

    /// <summary>
    /// Whether sharing <paramref name="shared"/> of a prompt's reusable tokens is worth overwriting another slot's
    /// resident conversation (holding <paramref name="held"/> tokens; a running stream to copy counts as holding everything) for: half the prompt, a
    /// full prefill chunk, or most of what the slot holds (little of it is lost: a short chat's next turn). A few
    /// shared tokens (a BOS, a chat template's opening) save nothing and would evict what a later turn needs.
    /// </summary>
    private static bool WorthTakingOver(int shared, int reusable, int held) =>
        shared > 0 && (shared * 2 >= reusable || shared > LargestUntiledChunk || shared * 2 >= held);

    /// <summary>Admission into the one pool of cells all sequences share: the prefix cache's tree, within the cell budget.</summary>
    private bool TryAdmitToSharedCells(Sequence sequence)
    {
        var prompt = sequence.Request.PromptTokens;
        var key = sequence.Request.PrefixCacheKey;
        var attach = _cache is not null && !sequence.Request.PromptLogprobs;
        var path = attach ? _cache!.Match(key, prompt, prompt.Length - 1, _admissionRound) : PrefixCache.CachePath.Empty;
        if (attach && path.Length + WorthWaiting(sequence) <= LongestRunningPrefill(sequence)) return false;

        _cache?.Lock(path);
        var needed = sequence.TotalCells - path.Length;
        var free = _limits.ContextCells - CachedCells - ReservedCells;
        if (free < needed && _cache is not null) free += _cache.Evict(needed - free);
        if (free < needed)
        {
            _cache?.Unlock(path);
            return false;
        }

        sequence.Slot = _freeSlots[^1];
        _freeSlots.RemoveAt(_freeSlots.Count - 1);
        sequence.Status = SequenceStatus.Prefilling;
        sequence.PrivateReservation = needed;
        ReservedCells += needed;
        _admitted.Add(sequence);

        _cache?.Attach(path, sequence.Slot);
        sequence.CachePath = path;
        sequence.CachedTokens = path.Length;
        sequence.PromptCursor = sequence.NextPosition = path.Length;
        sequence.FedTokens.AddRange(prompt.AsSpan(0, path.Length));
        _queriedTokens += prompt.Length;
        _hitTokens += path.Length;
        return true;
    }

    /// <summary>Choices of one prompt wait for any shared prefill; other requests only when it saves enough to beat the delay.</summary>
    private int WorthWaiting(Sequence waiting) =>
        waiting.Request.PrefillGroup is { } group && _admitted.Any(s => s.Status == SequenceStatus.Prefilling && s.Request.PrefillGroup == group)
            ? 1
            : SharedPrefillWorthWaiting;

    /// <summary>How much of this request's prompt a running prefill (same cache key: isolation key and adapters) shares: waiting for it beats computing it twice.</summary>
    private int LongestRunningPrefill(Sequence waiting)
    {
        var longest = 0;
        foreach (var running in _admitted)
        {
            if (running.Status != SequenceStatus.Prefilling || running.Request.PromptLogprobs
                || running.Request.PrefixCacheKey != waiting.Request.PrefixCacheKey) continue;
            // The waiting prompt's last token is always computed, so only the rest can be shared.
            longest = Math.Max(longest, PrefixCache.CommonPrefix(running.Request.PromptTokens, waiting.Request.PromptTokens.AsSpan(..^1)));
        }
        return longest;
    }

    /// <summary>Builds the next batch for one adapter group: one token per decoding sequence, then prompt chunks within the budget.</summary>
    public StepPlan Schedule()
    {
        var batch = new List<BatchToken>();
        var samples = new List<(Sequence, int)>();
        var prefilled = new List<Sequence>();
        var promptRows = new List<(Sequence, int)>();
        var group = NextGroup();
        if (group is null) return new StepPlan(batch, samples, prefilled, promptRows, AdapterSet.Base);
        _groupServedAt[group] = ++_steps;

        // Unless decodes are batch-invariant, a prompt's last token is fed like a generated one, in a step of its
        // own after the rest of the prompt: its logits then come from the same kernel whether the prefix was computed or cached.
        var draftBudget = _limits.BatchTokens - _admitted.Count(s => s.Request.Adapters.Equals(group) &&
            (s.Status == SequenceStatus.Decoding || s.Status == SequenceStatus.Prefilling && s.PromptCursor == s.PromptLength - 1));
        foreach (var sequence in _admitted)
        {
            if (batch.Count >= _limits.BatchTokens) break;
            if (!sequence.Request.Adapters.Equals(group)) continue;
            int token;
            if (sequence.Status == SequenceStatus.Decoding)
            {
                token = sequence.PendingToken;
            }
            else if (sequence.Status == SequenceStatus.Prefilling && sequence.PromptCursor == sequence.PromptLength - 1)
            {
                token = sequence.Request.PromptTokens[sequence.PromptCursor++];
                sequence.Status = SequenceStatus.Decoding;
            }
            else
            {
                continue;
            }
            samples.Add((sequence, batch.Count));
            sequence.FedTokens.Add(token);
            batch.Add(new BatchToken(token, sequence.NextPosition++, sequence.Slot, WantLogits: true));
            if (sequence.Speculation is { } speculation) draftBudget -= PlaceDraft(sequence, speculation, batch, draftBudget);
        }

        foreach (var sequence in _admitted)
        {
            var budget = _limits.BatchTokens - batch.Count;
            if (budget <= 0) break;
            if (sequence.Status != SequenceStatus.Prefilling || !sequence.Request.Adapters.Equals(group)) continue;

            var prompt = sequence.Request.PromptTokens;
            var end = _lastTokenWithChunk ? prompt.Length : prompt.Length - 1;
            var chunk = Math.Min(Math.Min(end - sequence.PromptCursor, budget), _maxPrefillChunk);
            if (chunk <= 0) continue;
            var scored = sequence.Request.PromptLogprobs;
            for (var i = 0; i < chunk; i++)
            {
                var token = prompt[sequence.PromptCursor++];
                sequence.FedTokens.Add(token);
                var last = sequence.PromptCursor == prompt.Length;
                if (last)
                {
                    samples.Add((sequence, batch.Count));
                    sequence.Status = SequenceStatus.Decoding;
                }
                else if (scored)
                {
                    promptRows.Add((sequence, batch.Count));
                }
                batch.Add(new BatchToken(token, sequence.NextPosition++, sequence.Slot, WantLogits: scored || last));
            }
            prefilled.Add(sequence);
        }

        var plan = new StepPlan(batch, samples, prefilled, promptRows, group);
        return _limits.StreamPerSequence ? OrderForStreams(plan) : plan;
    }

    /// <summary>
    /// With a stream per sequence llama.cpp computes, in one micro-batch, only sequences whose ids are consecutive
    /// in batch order (its "sequential" split); any other batch costs one pass over the weights per run of ids.
    /// So the batch goes in slot order, and every slot between the lowest and the highest fed gets one filler
    /// token (at the end of its stream, no logits, removed after the decode) when the budget allows: a few
    /// tokens of work instead of another pass. A filler cannot change any sequence's output: attention stays
    /// within each stream, and the filler's cell is gone before its stream is used again.
    /// </summary>
    internal StepPlan OrderForStreams(StepPlan plan)
    {
        if (plan.IsEmpty || IsOneRunOfIds(plan.Batch)) return plan;
        var order = Enumerable.Range(0, plan.Batch.Count).OrderBy(i => plan.Batch[i].Slot.Value).ThenBy(i => i).ToList();
        var fed = plan.Batch.Select(t => t.Slot.Value).ToHashSet();
        var lowest = fed.Min();
        var highest = fed.Max();
        var fillers = new List<BatchToken>();
        if (plan.Batch.Count + (highest - lowest + 1 - fed.Count) <= _limits.BatchTokens)
            for (var slot = lowest; slot <= highest; slot++)
                if (!fed.Contains(slot)) fillers.Add(new BatchToken(0, StreamLength(new SequenceSlot(slot)), new SequenceSlot(slot), WantLogits: false));

        var batch = new List<BatchToken>(plan.Batch.Count + fillers.Count);
        var newIndex = new int[plan.Batch.Count];
        var nextFiller = 0;
        foreach (var i in order)
        {
            while (nextFiller < fillers.Count && fillers[nextFiller].Slot.Value < plan.Batch[i].Slot.Value) batch.Add(fillers[nextFiller++]);
            newIndex[i] = batch.Count;
            batch.Add(plan.Batch[i]);
        }
        return plan with
        {
            Batch = batch,
            Samples = plan.Samples.Select(s => (s.Sequence, newIndex[s.BatchIndex])).ToList(),
            PromptRows = plan.PromptRows.Select(r => (r.Sequence, newIndex[r.BatchIndex])).ToList(),
            Fillers = fillers,
        };
    }

    /// <summary>Already in slot order without gaps (the usual step once slots fill): nothing to reorder or fill, nothing to allocate.</summary>
    private static bool IsOneRunOfIds(IReadOnlyList<BatchToken> batch)
    {
        for (var i = 1; i < batch.Count; i++)
        {
            var step = batch[i].Slot.Value - batch[i - 1].Slot.Value;
            if (step is not (0 or 1)) return false;
        }
        return true;
    }

    /// <summary>The next free position of a slot's stream: a running sequence's next token, else what stays resident.</summary>
    private int StreamLength(SequenceSlot slot)
    {
        foreach (var sequence in _admitted)
            if (sequence.Slot == slot) return sequence.NextPosition;
        return _resident?[slot.Value].Tokens.Length ?? 0;
    }

    /// <summary>Feeds as much of the sequence's proposed draft as the budget allows; returns how many tokens.</summary>
    private static int PlaceDraft(Sequence sequence, SpeculationState speculation, List<BatchToken> batch, int budget)
    {
        var draft = speculation.Proposed.Length <= budget ? speculation.Proposed : speculation.Proposed[..Math.Max(0, budget)];
        speculation.Proposed = [];
        speculation.InFlight = draft;
        foreach (var token in draft)
        {
            sequence.FedTokens.Add(token);
            batch.Add(new BatchToken(token, sequence.NextPosition++, sequence.Slot, WantLogits: true));
        }
        return draft.Length;
    }

    /// <summary>The adapter set to decode this step: of the running sets, the one served longest ago; null when nothing runs.</summary>
    private AdapterSet? NextGroup()
    {
        AdapterSet? chosen = null;
        var chosenAt = long.MaxValue;
        foreach (var sequence in _admitted)
        {
            var set = sequence.Request.Adapters;
            // Strictly earlier: on a tie the set of the oldest admitted sequence wins.
            if (_groupServedAt.GetValueOrDefault(set) < chosenAt)
            {
                chosen = set;
                chosenAt = _groupServedAt.GetValueOrDefault(set);
            }
        }
        return chosen;
    }

    /// <summary>After a successful decode: the prompt chunks just computed join the prefix cache, so later requests can share them.</summary>
    public void Decoded(StepPlan plan)
    {
        RemoveFillers(plan);
        if (_cache is null) return;
        foreach (var sequence in plan.Prefilled)
            if (sequence.Status is SequenceStatus.Prefilling or SequenceStatus.Decoding)
                ShareWithCache(sequence, sequence.PromptCursor, keepLocked: true);
        AssertBudget();
    }

    /// <summary>Drops the fillers' cells, after a decode or when it failed.</summary>
    public void RemoveFillers(StepPlan plan)
    {
        foreach (var filler in plan.Fillers) _kv.Remove(filler.Slot, filler.Position, filler.Position + 1);
    }

    /// <summary>
    /// Frees an admitted sequence's slot and cells, or drops a waiting one. With <paramref name="keepInCache"/>,
    /// the KV it computed (prompt and generated tokens) stays in the prefix cache for later requests.
    /// </summary>
    public void Release(Sequence sequence, bool keepInCache)
    {
        if (sequence.Status == SequenceStatus.Waiting)
        {
            _waiting.Remove(sequence);
        }
        else if (sequence.Status != SequenceStatus.Finished && _admitted.Remove(sequence))
        {
            if (keepInCache && _cache is not null) ShareWithCache(sequence, sequence.FedTokens.Count, keepLocked: false);
            _cache?.Unlock(sequence.CachePath);
            if (keepInCache && _resident is not null)
                _resident[sequence.Slot.Value] = new ResidentPrefix(sequence.Request.PrefixCacheKey, sequence.FedTokens.ToArray(), _admissionRound);
            else
                _kv.Remove(sequence.Slot, 0, int.MaxValue);
            _freeSlots.Add(sequence.Slot);
            ReservedCells -= sequence.PrivateReservation;
            if (!_admitted.Any(s => s.Request.Adapters.Equals(sequence.Request.Adapters))) _groupServedAt.Remove(sequence.Request.Adapters);
        }
        sequence.Status = SequenceStatus.Finished;
        AssertBudget();
    }

    private void ShareWithCache(Sequence sequence, int length, bool keepLocked)
    {
        var (path, moved) = _cache!.Insert(sequence.Request.PrefixCacheKey, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sequence.FedTokens)[..length], sequence.Slot, _admissionRound);
        sequence.PrivateReservation -= moved;
        ReservedCells -= moved;
        if (!keepLocked || path.Deepest == sequence.CachePath.Deepest) return;
        _cache.Lock(path);
        _cache.Unlock(sequence.CachePath);
        sequence.CachePath = path;
    }

    [Conditional("DEBUG")]
    private void AssertBudget() =>
        Debug.Assert(CachedCells + ReservedCells <= _limits.ContextCells && ReservedCells >= 0,
            $"KV budget broken: cached {CachedCells} + reserved {ReservedCells} > {_limits.ContextCells}");
}

/// <summary>The tokens a free slot's stream still holds from its last request, under that request's cache key.</summary>
internal readonly record struct ResidentPrefix(string Key, int[] Tokens, long LastUsed)
{
    public static readonly ResidentPrefix Empty = new("", [], 0);

    public int SharedWith(string key, ReadOnlySpan<int> prompt) => key == Key ? PrefixCache.CommonPrefix(Tokens, prompt) : 0;
}
