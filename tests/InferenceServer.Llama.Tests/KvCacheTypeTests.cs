using InferenceServer.Engine;
using InferenceServer.SyntheticModels.Llama;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Llama.Tests;

/// <summary>--cache-type-k/-v on a real context: quantised caches decode, take their real size, and shapes they cannot fit are refused before llama.cpp sees them.</summary>
[Collection(SyntheticModelCollection.Name)]
public sealed class KvCacheTypeTests(SyntheticModelFixture fixture)
{
    private LlamaModelSettings Settings(KvCacheType keys, KvCacheType values) =>
        new(fixture.PathOf(WeightFormat.Q8_0), ContextCells: 256, MaxSequences: 2, BatchTokens: 64, MicroBatchTokens: 64, Threads: 1)
        {
            KeyType = keys,
            ValueType = values,
        };

    public static TheoryData<string, string> Types => new() { { "f16", "f16" }, { "q8_0", "q8_0" }, { "q4_0", "q4_0" }, { "q8_0", "q4_0" }, { "f32", "f16" }, { "bf16", "f16" } };

    [Theory]
    [MemberData(nameof(Types))]
    public void A_context_with_these_cache_types_decodes_and_counts_its_cells_at_their_size(string keys, string values)
    {
        var keyType = KvCacheType.Parse(keys)!;
        var valueType = KvCacheType.Parse(values)!;
        using var model = LlamaModel.Load(Settings(keyType, valueType), NullLogger.Instance);

        // The tiny shape: 2 layers, 1 KV head, heads of 32 values.
        Assert.Equal(2 * 1 * (keyType.Bytes(32) + valueType.Bytes(32)), model.KvBytesPerCell);
        var prompt = model.Tokenizer.Tokenize("Once upon a time there was", addBos: true, parseSpecial: false);
        model.Executor.Decode(prompt.Select((t, i) => new BatchToken(t, i, new SequenceSlot(0), i == prompt.Length - 1)).ToList());
        var logits = model.Executor.Logits(prompt.Length - 1);
        Assert.All(logits.ToArray(), l => Assert.True(float.IsFinite(l)));
    }

    [Theory]
    [InlineData("Q8_0", "auto", true)]
    [InlineData("Q4_0", "auto", true)]
    [InlineData("F32", "auto", false)]
    [InlineData("F32", "bf16", false)]
    [InlineData("Q8_0", "f32", false)]
    public void Decodes_are_batch_invariant_with_integer_matmuls_and_keys_and_values_not_both_f16(string weights, string keys, bool invariant)
    {
        var settings = new LlamaModelSettings(fixture.PathOf(Enum.Parse<WeightFormat>(weights)), ContextCells: 256, MaxSequences: 2, BatchTokens: 64, MicroBatchTokens: 64, Threads: 1)
        {
            KeyType = keys == "auto" ? null : KvCacheType.Parse(keys),
        };
        using var model = LlamaModel.Load(settings, NullLogger.Instance);

        Assert.Equal(invariant, model.Executor.Limits.BatchInvariant);
    }

    [Fact]
    public void Quantised_types_take_a_half_or_a_quarter_of_f16()
    {
        var shape = new KvShape(Layers: 22, KvHeads: 4, KeyLength: 64, ValueLength: 64);
        var f16 = shape.BytesPerCell(KvCacheType.F16, KvCacheType.F16);
        Assert.Equal(22 * 4 * 256, f16);
        Assert.Equal(f16 * 34 / 64, shape.BytesPerCell(KvCacheType.Q8_0, KvCacheType.Q8_0));
        Assert.Equal(f16 * 18 / 64, shape.BytesPerCell(KvCacheType.Q4_0, KvCacheType.Q4_0));
    }

    [Fact]
    public void A_head_length_that_is_not_a_whole_number_of_blocks_is_refused_by_name()
    {
        // TinyStories-656K's heads: 128 / 8 = 16 values, half a q8_0 block.
        var shape = new KvShape(Layers: 2, KvHeads: 4, KeyLength: 16, ValueLength: 16);
        Assert.Null(shape.FindProblem(KvCacheType.F16, KvCacheType.F32));
        Assert.Contains("--cache-type-k q8_0", shape.FindProblem(KvCacheType.Q8_0, KvCacheType.F16));
        Assert.Contains("--cache-type-v q4_0", shape.FindProblem(KvCacheType.F16, KvCacheType.Q4_0));
        Assert.Contains("16", shape.FindProblem(KvCacheType.F16, KvCacheType.Q4_0));
    }

    [Fact]
    public void Names_parse_as_llama_server_spells_them()
    {
        Assert.Equal(KvCacheType.Q8_0, KvCacheType.Parse("Q8_0"));
        Assert.Null(KvCacheType.Parse("q3_k"));
    }

    [Fact]
    public void Without_a_key_type_the_keys_are_q8_0_where_the_heads_allow_it_else_bf16_so_attention_never_sees_f16_twice()
    {
        var settings = new LlamaModelSettings("model.gguf", 0, 1, 64, 64, Threads: 2);
        var heads64 = new KvShape(Layers: 22, KvHeads: 4, KeyLength: 64, ValueLength: 64, WeightFileType: "15");
        var heads16 = new KvShape(Layers: 2, KvHeads: 4, KeyLength: 16, ValueLength: 16, WeightFileType: "7");

        Assert.Equal(KvCacheType.Q8_0, settings.KeysFor(heads64));
        Assert.Equal(KvCacheType.F16, settings.KeysFor(heads64 with { WeightFileType = "0" }));
        Assert.Equal(KvCacheType.BF16, settings.KeysFor(heads16));
        Assert.Equal(KvCacheType.BF16, (settings with { ValueType = KvCacheType.F32 }).KeysFor(heads16));
        Assert.Equal(KvCacheType.F16, (settings with { ValueType = KvCacheType.Q8_0 }).KeysFor(heads64));
        Assert.Equal(KvCacheType.F16, (settings with { ValueType = KvCacheType.BF16 }).KeysFor(heads16));
        Assert.Equal(KvCacheType.F16, (settings with { GpuLayers = 10 }).KeysFor(heads64));
        Assert.Equal(KvCacheType.F32, (settings with { KeyType = KvCacheType.F32 }).KeysFor(heads64));

        Assert.True(KvShape.Exact(KvCacheType.Q8_0, KvCacheType.F16));
        Assert.True(KvShape.Exact(KvCacheType.F16, KvCacheType.Q4_0));
        Assert.True(KvShape.Exact(KvCacheType.BF16, KvCacheType.BF16));
        Assert.False(KvShape.Exact(KvCacheType.F16, KvCacheType.F16));
        // llama.cpp casts f32 keys and values to f16 before attention, so f32 is no way out.
        Assert.False(KvShape.Exact(KvCacheType.F32, KvCacheType.F16));
        Assert.False(KvShape.Exact(KvCacheType.F16, KvCacheType.F32));
    }
}
