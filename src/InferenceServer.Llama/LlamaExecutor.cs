using InferenceServer.Engine;
using LLama;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// Decodes engine batches on one llama.cpp context with a unified KV cache (all sequences share its cells).
/// Used from the engine loop's thread only: LLamaSharp serialises decodes process-wide anyway.
/// </summary>
internal sealed class LlamaExecutor(LLamaContext context, ModelLimits limits) : IModelExecutor, IDisposable
{
    private readonly LLamaBatch _batch = new();

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

    public ITokenSampler CreateSampler(SamplingParameters parameters) => new LlamaSampler(context.NativeHandle, parameters);

    public void Copy(SequenceSlot source, SequenceSlot target, int from, int to) =>
        context.NativeHandle.MemorySequenceCopy((LLamaSeqId)source.Value, (LLamaSeqId)target.Value, from, to);

    // llama.cpp reads a negative end as "to the end of the sequence".
    public void Remove(SequenceSlot slot, int from, int to) =>
        context.NativeHandle.MemorySequenceRemove((LLamaSeqId)slot.Value, from, to == int.MaxValue ? -1 : to);

    public void Dispose() => context.Dispose();
}

/// <summary>A llama.cpp sampler chain for one request: the grammar first when there is one (checked by
/// <see cref="GrammarGuard"/> before the request reached the engine), then greedy at temperature 0, else
/// top-p, temperature, seeded draw.</summary>
internal sealed class LlamaSampler : ITokenSampler
{
    private readonly SafeLLamaContextHandle _context;
    private readonly SafeLLamaSamplerChainHandle _chain;

    public LlamaSampler(SafeLLamaContextHandle context, SamplingParameters parameters)
    {
        _context = context;
        _chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        if (parameters.Grammar is { } grammar) _chain.AddGrammar(context.ModelHandle.Vocab, grammar.Gbnf, grammar.Root);
        if (parameters.IsGreedy)
        {
            _chain.AddGreedySampler();
            return;
        }
        if (parameters.TopP < 1f) _chain.AddTopP(parameters.TopP, 1);
        _chain.AddTemperature(parameters.Temperature);
        _chain.AddDistributionSampler(parameters.Seed);
    }

    public int Sample(int batchIndex) => (int)_chain.Sample(_context, batchIndex);

    public void Dispose() => _chain.Dispose();
}
