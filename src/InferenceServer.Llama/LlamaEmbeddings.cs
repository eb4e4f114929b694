using InferenceServer.Contracts;
using LLama;
using LLama.Common;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// Embeddings from a dedicated context over the same weights (pooling from the model, mean when it names
/// none), created on first use. Each decode holds up to <see cref="SequencesPerDecode"/> inputs, each in its own
/// sequence; the KV cache is cleared between decodes. One batch of inputs at a time.
/// </summary>
internal sealed class LlamaEmbeddings(LLamaWeights weights, int threads) : IEmbeddingModel, IDisposable
{
    private const int SequencesPerDecode = 16;
    private const int ContextTokens = 4096;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LLamaContext? _context;

    public int Dimensions => weights.EmbeddingSize;

    // With pooling, llama.cpp needs all of one sequence's tokens in a single micro-batch.
    public int MaxInputTokens => Math.Min(ContextTokens, weights.ContextSize);

    public async Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<int[]> inputs, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await Task.Run(() => Embed(inputs, cancellationToken), cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private float[][] Embed(IReadOnlyList<int[]> inputs, CancellationToken cancellationToken)
    {
        var context = _context ??= CreateContext();
        var results = new float[inputs.Count][];
        var batch = new LLamaBatch();
        var start = 0;
        while (start < inputs.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            batch.Clear();
            context.NativeHandle.MemoryClear(true);
            var count = 0;
            while (start + count < inputs.Count && count < SequencesPerDecode
                   && batch.TokenCount + inputs[start + count].Length <= ContextTokens)
            {
                var tokens = Array.ConvertAll(inputs[start + count], t => (LLamaToken)t);
                batch.AddRange(tokens, 0, (LLamaSeqId)count, logitsLast: true);
                count++;
            }
            var result = context.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok)
                throw new InvalidOperationException($"llama_decode returned {result} for {count} embedding inputs.");
            for (var i = 0; i < count; i++)
                results[start + i] = Normalised(context.NativeHandle.GetEmbeddingsSeq((LLamaSeqId)i));
            start += count;
        }
        return results;
    }

    private static float[] Normalised(ReadOnlySpan<float> vector)
    {
        var norm = 0.0;
        foreach (var x in vector) norm += x * x;
        norm = Math.Sqrt(norm);
        var result = vector.ToArray();
        if (norm > 0)
            for (var i = 0; i < result.Length; i++) result[i] = (float)(result[i] / norm);
        return result;
    }

    private LLamaContext CreateContext()
    {
        var architecture = weights.Metadata.GetValueOrDefault("general.architecture", "");
        var parameters = new ModelParams("unused")
        {
            ContextSize = ContextTokens,
            BatchSize = ContextTokens,
            UBatchSize = ContextTokens,
            SeqMax = SequencesPerDecode,
            Embeddings = true,
            PoolingType = weights.Metadata.ContainsKey($"{architecture}.pooling_type") ? LLamaPoolingType.Unspecified : LLamaPoolingType.Mean,
            Threads = threads,
            BatchThreads = threads,
        };
        return weights.CreateContext(parameters);
    }

    public void Dispose()
    {
        _context?.Dispose();
        _gate.Dispose();
    }
}
