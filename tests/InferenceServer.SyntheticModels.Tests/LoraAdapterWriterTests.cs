using InferenceServer.SyntheticModels.Gguf;
using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.SyntheticModels.Tests;

[Collection(SyntheticModelCollection.Name)]
/// <summary>The LoRA adapter writer: llama.cpp's tensor names and shapes (loading them is InferenceServer.Llama.Tests' LoraAdapterTests).</summary>
public sealed class LoraAdapterWriterTests(SyntheticModelFixture fixture)
{
    private static readonly LoraAdapterOptions Options = new(Rank: 8, Alpha: 16, ["attn_q", "attn_v", "ffn_up"], Seed: 1);

    [Fact]
    public void Adapter_tensors_follow_llama_cpp_naming_and_shapes()
    {
        var path = Path.Combine(fixture.Directory, "shapes-lora.gguf");
        LoraAdapterWriter.Write(path, fixture.PathOf(WeightFormat.Q8_0), Options with { Targets = ["attn_k", "ffn_down"] });
        var file = GgufReader.Read(path);
        var tensors = file.Tensors.ToDictionary(t => t.Name);

        Assert.Equal("adapter", file.MetadataByKey["general.type"].AsString());
        Assert.Equal("lora", file.MetadataByKey["adapter.type"].AsString());
        Assert.Equal("llama", file.MetadataByKey["general.architecture"].AsString());
        Assert.Equal(16f, (float)file.MetadataByKey["adapter.lora.alpha"].Value);
        Assert.Equal(8, tensors.Count); // 2 blocks x 2 targets x (A, B)
        Assert.Equal([64L, 8L], tensors["blk.0.attn_k.weight.lora_a"].Dimensions);   // [n_in, rank]
        Assert.Equal([8L, 32L], tensors["blk.0.attn_k.weight.lora_b"].Dimensions);   // [rank, n_out]
        Assert.Equal([128L, 8L], tensors["blk.1.ffn_down.weight.lora_a"].Dimensions);
        Assert.Equal([8L, 64L], tensors["blk.1.ffn_down.weight.lora_b"].Dimensions);
    }

    [Fact]
    public void Unknown_targets_are_rejected()
    {
        var baseModel = GgufReader.Read(fixture.PathOf(WeightFormat.Q8_0));
        Assert.Throws<ArgumentException>(() => LoraAdapterWriter.TensorPlans(baseModel, Options with { Targets = ["attn_qq"] }));
    }
}
