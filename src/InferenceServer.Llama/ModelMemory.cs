using LLama;
using LLama.Common;

namespace InferenceServer.Llama;

/// <summary>
/// Estimates what a model takes in memory once loaded: its GGUF file (the weights, memory-mapped) plus its
/// KV cache at its element types, from the GGUF metadata. Compute buffers and the embeddings context are left out, so the real figure is somewhat higher.
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
            var shape = KvShape.FromMetadata(metadata);
            var bytesPerCell = shape.BytesPerCell(settings.KeysFor(shape), settings.ValueType);
            var trainedContext = metadata.TryGetValue($"{metadata.GetValueOrDefault("general.architecture")}.context_length", out var text)
                && int.TryParse(text, out var length) ? length : 4096;
            return new FileInfo(settings.ModelPath).Length + bytesPerCell * settings.ContextCellsFor(trainedContext);
        }
    }
}
