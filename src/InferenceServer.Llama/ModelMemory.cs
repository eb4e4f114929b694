using LLama;
using LLama.Common;

namespace InferenceServer.Llama;

/// <summary>
/// Estimates what a model takes in memory once loaded: its GGUF file (the weights, memory-mapped) plus its
/// F16 KV cache. Compute buffers and the embeddings context are left out, so the real figure is somewhat higher.
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
            var model = weights.NativeHandle;
            var headDimension = weights.EmbeddingSize / Math.Max(model.HeadCount, 1);
            long bytesPerCell = (long)model.LayerCount * 2 /* K and V */ * model.KVHeadCount * headDimension * sizeof(short);
            return new FileInfo(settings.ModelPath).Length + bytesPerCell * settings.ContextCellsFor(weights.ContextSize);
        }
    }
}
