using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.Llama.Tests;

/// <summary>The estimate --models-memory-budget counts: the GGUF file plus the KV cache at its element types.</summary>
[Collection(SyntheticModelCollection.Name)]
public sealed class ModelMemoryTests(SyntheticModelFixture fixture)
{
    private LlamaModelSettings Settings(int contextCells, KvCacheType keys, KvCacheType values) =>
        new(fixture.PathOf(WeightFormat.Q8_0), contextCells, MaxSequences: 2, BatchTokens: 64, MicroBatchTokens: 64, Threads: 1)
        {
            KeyType = keys,
            ValueType = values,
        };

    [Fact]
    public void The_estimate_is_the_file_plus_every_cell_of_keys_and_values()
    {
        var file = new FileInfo(fixture.PathOf(WeightFormat.Q8_0)).Length;
        // The tiny shape: 2 layers, 1 KV head, heads of 32 values; f16 takes 2 bytes a value, q8_0 34 bytes a block of 32.
        Assert.Equal(file + 512 * 2 * 1 * (32 * 2 + 32 * 2), ModelMemory.EstimateBytes(Settings(512, KvCacheType.F16, KvCacheType.F16)));
        Assert.Equal(file + 512 * 2 * 1 * (34 + 34), ModelMemory.EstimateBytes(Settings(512, KvCacheType.Q8_0, KvCacheType.Q8_0)));
    }

    [Fact]
    public void A_file_that_is_not_a_model_is_a_load_error_not_a_crash()
    {
        var notAModel = Path.Combine(fixture.Directory, "not-a-model.gguf");
        File.WriteAllText(notAModel, "hello");
        var error = Assert.Throws<ModelLoadException>(() => ModelMemory.EstimateBytes(Settings(512, KvCacheType.F16, KvCacheType.F16) with { ModelPath = notAModel }));
        Assert.Contains(notAModel, error.Message);
    }
}
