using LLama;
using LLama.Common;

namespace InferenceServer.Llama;

/// <summary>
/// Estimates what a model takes in memory once loaded: its GGUF file (the weights, memory-mapped) plus its
/// F16 KV cache, from the GGUF metadata. Compute buffers and the embeddings context are left out, so the real figure is somewhat higher.
/// </summary>
public static class ModelMemory
{
    /// <summary>Reads the model's shape without its tensors (llama.cpp's vocab-only load). Throws <see cref="ModelLoadException"/>.</summary>
    public static long EstimateBytes(LlamaModelSettings settings)
    {
        LlamaModel.CheckGgufFile(settings.ModelPath);
        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(new ModelParams(settings.ModelPath) { VocabOnly = true });
        }
        catch (Exception ex)
        {
            throw new ModelLoadException($"Cannot read model '{settings.ModelPath}': llama.cpp rejected it ({ex.Message}).", ex);
        }
        using (weights)
        {
            // Only the metadata: after a vocab-only load llama.cpp's per-layer accessors (head counts) abort the process.
            var metadata = weights.Metadata;
            long Read(string key, long fallback) =>
                metadata.TryGetValue($"{metadata.GetValueOrDefault("general.architecture")}.{key}", out var text) && long.TryParse(text, out var value) ? value : fallback;
            var embedding = Read("embedding_length", 0);
            var heads = Math.Max(Read("attention.head_count", 1), 1);
            var kvHeads = Read("attention.head_count_kv", heads);
            var keyLength = Read("attention.key_length", embedding / heads);
            var valueLength = Read("attention.value_length", embedding / heads);
            var bytesPerCell = Read("block_count", 0) * kvHeads * (keyLength + valueLength) * sizeof(short);
            var trainedContext = (int)Math.Min(Read("context_length", 4096), int.MaxValue);
            return new FileInfo(settings.ModelPath).Length + bytesPerCell * settings.ContextCellsFor(trainedContext);
        }
    }
}
