using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>What LoRA adapter to write for a base model.</summary>
internal sealed record LoraAdapterOptions(int Rank, float Alpha, IReadOnlyList<string> Targets, ulong Seed, float Std = 0.02f);

/// <summary>
/// Writes a LoRA adapter GGUF with random A and B matrices for a llama base model, in the layout
/// llama.cpp's <c>convert_lora_to_gguf.py</c> produces and <c>llama_adapter_lora_init</c> checks:
/// for a base weight <c>blk.N.T.weight</c> of ggml shape [n_in, n_out], tensors
/// <c>blk.N.T.weight.lora_a</c> [n_in, rank] and <c>blk.N.T.weight.lora_b</c> [rank, n_out], F32.
/// llama.cpp adds <c>scale * alpha / rank * B(A x)</c> to the base output.
/// Both A and B are random (a trained adapter's B is not zero), so the adapter changes the output.
/// </summary>
internal static class LoraAdapterWriter
{
    public static IReadOnlyList<GgufTensorPlan> TensorPlans(GgufFile baseModel, LoraAdapterOptions options)
    {
        if (options.Rank <= 0)
        {
            throw new ArgumentException($"Rank must be positive, not {options.Rank}.");
        }

        if (options.Targets.Count == 0)
        {
            throw new ArgumentException("Give at least one target matrix.");
        }

        var unknown = options.Targets.Except(LlamaTensorLayout.BlockMatrices).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException(
                $"Unknown LoRA target(s) {string.Join(", ", unknown)}; choose from {string.Join(", ", LlamaTensorLayout.BlockMatrices)}.");
        }

        var byName = baseModel.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var blockCount = (int)BaseMetadata(baseModel, "llama.block_count").AsInt64();
        var plans = new List<GgufTensorPlan>();
        for (var block = 0; block < blockCount; block++)
        {
            foreach (var target in options.Targets)
            {
                var name = $"blk.{block}.{target}.weight";
                if (!byName.TryGetValue(name, out var weight) || weight.Dimensions.Count != 2)
                {
                    throw new InvalidDataException($"The base model has no matrix '{name}'.");
                }

                long inputs = weight.Dimensions[0], outputs = weight.Dimensions[1];
                plans.Add(new GgufTensorPlan(name + ".lora_a", [inputs, options.Rank], GgmlType.F32));
                plans.Add(new GgufTensorPlan(name + ".lora_b", [options.Rank, outputs], GgmlType.F32));
            }
        }

        return plans;
    }

    public static IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata(GgufFile baseModel, LoraAdapterOptions options) =>
    [
        new("general.architecture", GgufValue.String(BaseMetadata(baseModel, "general.architecture").AsString())),
        new("general.type", GgufValue.String("adapter")),
        new("general.name", GgufValue.String($"synthetic-lora-r{options.Rank}")),
        new("general.description", GgufValue.String(
            $"Random LoRA adapter for benchmarks and tests (normal(0, {options.Std}), seed {options.Seed}, targets {string.Join(",", options.Targets)}); not trained.")),
        new("adapter.type", GgufValue.String("lora")),
        new("adapter.lora.alpha", GgufValue.Float32(options.Alpha)),
    ];

    /// <returns>Total tensor bytes written.</returns>
    public static long Write(string path, string baseModelPath, LoraAdapterOptions options)
    {
        var baseModel = GgufReader.Read(baseModelPath);
        var plans = TensorPlans(baseModel, options);
        var indexOf = plans.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        GgufWriter.Write(
            stream,
            Metadata(baseModel, options),
            plans,
            (plan, output) => SyntheticModelWriter.WriteRandom(plan, output, [options.Seed, (ulong)indexOf[plan.Name]], options.Std));
        return GgufWriter.TensorBytes(plans);
    }

    private static GgufValue BaseMetadata(GgufFile baseModel, string key) =>
        baseModel.MetadataByKey.TryGetValue(key, out var value)
            ? value
            : throw new InvalidDataException($"The base model has no '{key}' metadata.");
}
