namespace InferenceServer.Engine;

/// <summary>The tokens of one decode and which sequences sample from which logits row afterwards.</summary>
internal sealed record StepPlan(IReadOnlyList<BatchToken> Batch, IReadOnlyList<(Sequence Sequence, int BatchIndex)> Samples)
{
    public bool IsEmpty => Batch.Count == 0;
}

/// <summary>
/// Decides what each engine step decodes. Holds no model, thread or clock: the engine loop calls
/// <see cref="Schedule"/>, decodes the plan, samples, then reports finished sequences with <see cref="Release"/>.
///
/// Invariants:
/// - A slot belongs to at most one admitted sequence; free slots + admitted sequences = MaxSequences.
/// - The cells reserved by admitted sequences never exceed ContextCells, so a decode never runs out of KV.
/// - Admission is FIFO: a waiting request is never overtaken by a later one (no starvation).
/// - Every step feeds the pending token of every decoding sequence before any prompt chunk, so running
///   streams advance every step; prompt chunks fill what is left of the token budget, oldest first.
/// - A batch never holds more than BatchTokens tokens, nor more than one chunk per sequence.
/// </summary>
internal sealed class Scheduler
{
    private readonly ModelLimits _limits;
    private readonly int _maxPrefillChunk;
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _admitted = new();
    private readonly Stack<SequenceSlot> _freeSlots = new();

    public Scheduler(ModelLimits limits, int maxPrefillChunk = int.MaxValue)
    {
        _limits = limits;
        _maxPrefillChunk = maxPrefillChunk;
        for (var slot = limits.MaxSequences - 1; slot >= 0; slot--) _freeSlots.Push(new SequenceSlot(slot));
    }

    public int WaitingCount => _waiting.Count;
    public int RunningCount => _admitted.Count;
    public int ReservedCells { get; private set; }
    public IEnumerable<Sequence> Admitted => _admitted;
    public IEnumerable<Sequence> Waiting => _waiting;

    public void Enqueue(Sequence sequence)
    {
        if (sequence.ReservedCells > _limits.ContextCells)
            throw new ArgumentException("A request's reservation cannot exceed the context.", nameof(sequence));
        _waiting.AddLast(sequence);
    }

    /// <summary>Admits what fits, in arrival order; returns the newly admitted sequences.</summary>
    public IReadOnlyList<Sequence> Admit()
    {
        var admitted = new List<Sequence>();
        while (_waiting.First is { } node && _freeSlots.Count > 0
               && ReservedCells + node.Value.ReservedCells <= _limits.ContextCells)
        {
            var sequence = node.Value;
            _waiting.RemoveFirst();
            sequence.Slot = _freeSlots.Pop();
            sequence.Status = SequenceStatus.Prefilling;
            ReservedCells += sequence.ReservedCells;
            _admitted.Add(sequence);
            admitted.Add(sequence);
        }
        return admitted;
    }

    /// <summary>Builds the next batch: one token per decoding sequence, then prompt chunks within the budget.</summary>
    public StepPlan Schedule()
    {
        var batch = new List<BatchToken>();
        var samples = new List<(Sequence, int)>();

        foreach (var sequence in _admitted)
        {
            if (sequence.Status != SequenceStatus.Decoding || batch.Count >= _limits.BatchTokens) continue;
            samples.Add((sequence, batch.Count));
            batch.Add(new BatchToken(sequence.PendingToken, sequence.NextPosition++, sequence.Slot, WantLogits: true));
        }

        foreach (var sequence in _admitted)
        {
            var budget = _limits.BatchTokens - batch.Count;
            if (budget <= 0) break;
            if (sequence.Status != SequenceStatus.Prefilling) continue;

            var remaining = sequence.PromptLength - sequence.PromptCursor;
            var chunk = Math.Min(Math.Min(remaining, budget), _maxPrefillChunk);
            for (var i = 0; i < chunk; i++)
            {
                var isLastPromptToken = sequence.PromptCursor + 1 == sequence.PromptLength;
                if (isLastPromptToken) samples.Add((sequence, batch.Count));
                batch.Add(new BatchToken(sequence.Request.PromptTokens[sequence.PromptCursor++],
                    sequence.NextPosition++, sequence.Slot, WantLogits: isLastPromptToken));
            }
            if (sequence.PromptCursor == sequence.PromptLength) sequence.Status = SequenceStatus.Decoding;
        }

        return new StepPlan(batch, samples);
    }

    /// <summary>Frees an admitted sequence's slot and cells, or drops a waiting one.</summary>
    public void Release(Sequence sequence)
    {
        if (sequence.Status == SequenceStatus.Waiting)
        {
            _waiting.Remove(sequence);
        }
        else if (sequence.Status != SequenceStatus.Finished && _admitted.Remove(sequence))
        {
            _freeSlots.Push(sequence.Slot);
            ReservedCells -= sequence.ReservedCells;
        }
        sequence.Status = SequenceStatus.Finished;
    }
}
