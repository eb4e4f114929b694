using InferenceServer.Engine;
using LLama;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// Decodes engine batches on one llama.cpp context (a KV stream per sequence, or one pool of cells all sequences share).
/// Used from the engine loop's thread only: LLamaSharp serialises decodes process-wide anyway.
/// </summary>
internal sealed class LlamaExecutor(LLamaContext context, ModelLimits limits) : IModelExecutor, IDisposable
{
    private readonly LLamaBatch _batch = new();
    private AdapterSet _applied = AdapterSet.Base;

    public ModelLimits Limits { get; } = limits;

    public void Decode(IReadOnlyList<BatchToken> batch)
    {
        _batch.Clear();
        foreach (var token in batch)
            _batch.Add((LLamaToken)token.Token, (LLamaPos)token.Position, (LLamaSeqId)token.Slot.Value, token.WantLogits);

        var result = context.NativeHandle.Decode(_batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"llama_decode returned {result} for a batch of {batch.Count} tokens.");
    }

    /// <summary>
    /// Sets the context's adapters. The context holds a reference on each applied adapter until another set
    /// replaces it, so an adapter removed meanwhile is freed only once llama.cpp no longer points at it.
    /// </summary>
    public void ApplyAdapters(AdapterSet adapters)
    {
        var loaded = adapters.Adapters.Select(a => (Adapter: (LoadedLoraAdapter)a.Adapter, a.Scale)).ToList();
        foreach (var (adapter, _) in loaded) adapter.AddContextReference();
        try
        {
            context.NativeHandle.SetLoraAdapters(loaded.Select(a => (a.Adapter.Native, a.Scale)).ToArray());
        }
        catch
        {
            foreach (var (adapter, _) in loaded) adapter.Release();
            throw;
        }
        foreach (var previous in _applied.Adapters) previous.Adapter.Release();
        _applied = adapters;
    }

    public ReadOnlySpan<float> Logits(int batchIndex) => context.NativeHandle.GetLogitsIth(batchIndex);

    public ITokenSampler CreateSampler(SamplingParameters parameters) => LogitsSampler.Serves(parameters)
        ? new ManagedSampler(context.NativeHandle, new LogitsSampler(parameters))
        : new LlamaSampler(context.NativeHandle, parameters);

    public IGrammarSampler CreateGrammarSampler(SamplingParameters parameters)
    {
        var grammar = parameters.Grammar ?? throw new ArgumentException("No grammar.", nameof(parameters));
        if (GrammarGuard.Check(context.NativeHandle.ModelHandle, grammar.Gbnf, grammar.Root) is { IsUsable: false } check)
            throw new ArgumentException($"The grammar is unusable with this model: {check.Error}.", nameof(parameters));
        return new LlamaSampler(context.NativeHandle, parameters);
    }

    public void Copy(SequenceSlot source, SequenceSlot target, int from, int to) =>
        context.NativeHandle.MemorySequenceCopy((LLamaSeqId)source.Value, (LLamaSeqId)target.Value, from, to);

    // Positions 0 to -1: the whole stream, the only cross-stream copy llama.cpp allows (a partial one is a GGML_ASSERT).
    public void CopyStream(SequenceSlot source, SequenceSlot target) =>
        context.NativeHandle.MemorySequenceCopy((LLamaSeqId)source.Value, (LLamaSeqId)target.Value, 0, -1);

    // llama.cpp reads a negative end as "to the end of the sequence".
    public void Remove(SequenceSlot slot, int from, int to) =>
        context.NativeHandle.MemorySequenceRemove((LLamaSeqId)slot.Value, from, to == int.MaxValue ? -1 : to);

    public void Dispose() => context.Dispose();
}

/// <summary>Samples in managed code (<see cref="LogitsSampler"/>) from the context's logits row.</summary>
internal sealed class ManagedSampler(SafeLLamaContextHandle context, LogitsSampler sampler) : ITokenSampler
{
    public int Sample(int batchIndex) => sampler.Sample(context.GetLogitsIth(batchIndex));

    public void Dispose() => sampler.Dispose();
}

/// <summary>A llama.cpp sampler chain for requests with a grammar, logit bias or penalties: the grammar first when there is one (checked by
/// <see cref="GrammarGuard"/> before the request reached the engine), then greedy at temperature 0, else
/// top-p, temperature, seeded draw. The grammar is a chain of its own, so that a token can be checked against it alone.</summary>
internal sealed class LlamaSampler : IGrammarSampler
{
    private readonly SafeLLamaContextHandle _context;
    private readonly SafeLLamaSamplerChainHandle _chain;
    private readonly SafeLLamaSamplerChainHandle? _grammar;
    private LLamaTokenData[]? _candidates;

    public LlamaSampler(SafeLLamaContextHandle context, SamplingParameters parameters)
    {
        _context = context;
        if (parameters.Grammar is { } grammar)
        {
            _grammar = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
            _grammar.AddGrammar(context.ModelHandle.Vocab, grammar.Gbnf, grammar.Root);
        }
        _chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        // llama.cpp's usual order: biases and penalties on the raw logits, then truncation, temperature, draw.
        if (parameters.LogitBias is { Count: > 0 } biases)
            _chain.AddLogitBias(context.ModelHandle.Vocab.Count,
                biases.Select(b => new LLamaLogitBias { Token = (LLamaToken)b.Key, Bias = b.Value }).ToArray());
        if (parameters.HasPenalties)
            _chain.AddPenalties(parameters.PenaltyWindow, parameters.RepetitionPenalty, parameters.FrequencyPenalty, parameters.PresencePenalty);
        if (parameters.IsGreedy)
        {
            _chain.AddGreedySampler();
            return;
        }
        if (parameters.TopK > 0) _chain.AddTopK(parameters.TopK);
        if (parameters.TopP < 1f) _chain.AddTopP(parameters.TopP, 1);
        if (parameters.MinP > 0f) _chain.AddMinP(parameters.MinP, 1);
        _chain.AddTemperature(parameters.Temperature);
        _chain.AddDistributionSampler(parameters.Seed);
    }

    public bool Complete { get; private set; }

    public int Sample(int batchIndex) => _grammar is null ? (int)_chain.Sample(_context, batchIndex) : SampleConstrained(batchIndex);

    /// <summary>
    /// llama_sampler_sample accepts the token inside native code, and accepting a token the grammar cannot
    /// continue with throws a C++ exception that aborts the process. So apply the grammar and the chain, check that
    /// the pick survived the grammar, and only then accept it.
    /// </summary>
    private int SampleConstrained(int batchIndex)
    {
        var logits = _context.GetLogitsIth(batchIndex);
        var candidates = _candidates ??= new LLamaTokenData[logits.Length];
        for (var i = 0; i < logits.Length; i++) candidates[i] = new LLamaTokenData((LLamaToken)i, logits[i], 0f);
        LLamaToken token;
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(candidates, false), out var native))
        {
            _grammar!.Apply(ref native);
            Complete = OnlyEndOfGeneration(candidates);
            _chain.Apply(ref native);
            var selected = native.Data[(int)native.Selected];
            if (float.IsNegativeInfinity(selected.Logit))
                throw new InvalidOperationException("The grammar allows no token the model can produce next; generation stopped.");
            token = selected.ID;
        }
        _grammar.Accept(token);
        _chain.Accept(token);
        return (int)token;
    }

    /// <summary>Whether the grammar left only end-of-generation tokens: it is complete.</summary>
    private bool OnlyEndOfGeneration(LLamaTokenData[] candidates)
    {
        var vocab = _context.ModelHandle.Vocab;
        foreach (var candidate in candidates)
            if (!float.IsNegativeInfinity(candidate.Logit) && !candidate.ID.IsEndOfGeneration(vocab))
                return false;
        return true;
    }

    public bool TryAccept(int token)
    {
        if (_grammar is null) throw new InvalidOperationException("No grammar to advance.");
        var single = new[] { new LLamaTokenData((LLamaToken)token, 0f, 0f) };
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(single, false), out var native))
        {
            _grammar.Apply(ref native);
            if (float.IsNegativeInfinity(native.Data[0].Logit)) return false;
        }
        _grammar.Accept((LLamaToken)token);
        _chain.Accept((LLamaToken)token);
        return true;
    }

    public void Dispose()
    {
        _grammar?.Dispose();
        _chain.Dispose();
    }
}
