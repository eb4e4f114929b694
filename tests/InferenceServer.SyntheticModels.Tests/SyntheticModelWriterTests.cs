using System.Runtime.InteropServices;
using System.Security.Cryptography;
using InferenceServer.SyntheticModels.Gguf;
using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.SyntheticModels.Tests;

[Collection(SyntheticModelCollection.Name)]
public sealed class SyntheticModelWriterTests(SyntheticModelFixture fixture)
{
    [Fact]
    public void The_file_holds_llama_metadata_the_vocabulary_and_a_chatml_template()
    {
        var file = GgufReader.Read(fixture.PathOf(WeightFormat.F32));
        var vocabulary = GgufReader.Read(fixture.VocabularyPath);
        var meta = file.MetadataByKey;

        Assert.Equal("llama", meta["general.architecture"].AsString());
        Assert.Equal(0, meta["general.file_type"].AsInt64());
        Assert.Equal(64, meta["llama.embedding_length"].AsInt64());
        Assert.Equal(2, meta["llama.block_count"].AsInt64());
        Assert.Equal(2, meta["llama.attention.head_count"].AsInt64());
        Assert.Equal(1, meta["llama.attention.head_count_kv"].AsInt64());
        Assert.Equal(32, meta["llama.rope.dimension_count"].AsInt64());
        Assert.Equal(128, meta["llama.feed_forward_length"].AsInt64());
        Assert.Equal(32000, meta["llama.vocab_size"].AsInt64());

        var copied = vocabulary.Metadata.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal) && kv.Key != "tokenizer.chat_template").ToList();
        Assert.True(copied.Count >= 5, $"only {copied.Count} tokenizer keys in the vocabulary file");
        foreach (var (key, value) in copied)
        {
            Assert.Equal(value, meta[key]);
        }

        Assert.Equal(32000, meta["tokenizer.ggml.tokens"].AsArray().Length);
        Assert.Contains("<|im_start|>", meta["tokenizer.chat_template"].AsString());
    }

    [Fact]
    public void Tensors_have_llama_shapes_in_ggml_order()
    {
        var tensors = GgufReader.Read(fixture.PathOf(WeightFormat.F32)).Tensors.ToDictionary(t => t.Name);

        // 2 blocks x 9 tensors + token_embd, output_norm, output.
        Assert.Equal(21, tensors.Count);
        Assert.Equal([64L, 32000L], tensors["token_embd.weight"].Dimensions);
        Assert.Equal([64L, 32000L], tensors["output.weight"].Dimensions);
        Assert.Equal([64L], tensors["output_norm.weight"].Dimensions);
        Assert.Equal([64L, 64L], tensors["blk.1.attn_q.weight"].Dimensions);
        Assert.Equal([64L, 32L], tensors["blk.1.attn_k.weight"].Dimensions);   // one KV head of 32
        Assert.Equal([64L, 32L], tensors["blk.0.attn_v.weight"].Dimensions);
        Assert.Equal([64L, 64L], tensors["blk.0.attn_output.weight"].Dimensions);
        Assert.Equal([64L, 128L], tensors["blk.0.ffn_gate.weight"].Dimensions);
        Assert.Equal([64L, 128L], tensors["blk.0.ffn_up.weight"].Dimensions);
        Assert.Equal([128L, 64L], tensors["blk.0.ffn_down.weight"].Dimensions);
        Assert.Equal([64L], tensors["blk.0.ffn_norm.weight"].Dimensions);
        Assert.All(tensors.Values, t => Assert.Equal(0UL, t.Offset % 32));
    }

    [Fact]
    public void Matrices_are_normal_with_std_0_02_and_norms_are_one()
    {
        var path = fixture.PathOf(WeightFormat.F32);
        var file = GgufReader.Read(path);
        var embedding = ReadF32(path, file, "token_embd.weight");
        var norm = ReadF32(path, file, "blk.0.attn_norm.weight");

        var mean = embedding.Average(v => (double)v);
        var std = Math.Sqrt(embedding.Average(v => (double)v * v) - mean * mean);
        Assert.InRange(mean, -0.001, 0.001);
        Assert.InRange(std, 0.0195, 0.0205);
        var within = embedding.Count(v => Math.Abs(v) < 0.02) / (double)embedding.Length;
        Assert.InRange(within, 0.67, 0.70); // a normal puts 68.3% within one standard deviation
        Assert.All(norm, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void The_same_seed_gives_identical_bytes_and_another_seed_different_ones()
    {
        var vocabulary = Vocabulary.Load(fixture.VocabularyPath);
        var again = Path.Combine(fixture.Directory, "again.gguf");
        var other = Path.Combine(fixture.Directory, "other.gguf");
        var againQ8 = Path.Combine(fixture.Directory, "again-q8.gguf");
        SyntheticModelBuilder.Build(again, SyntheticModelFixture.Tiny, SyntheticModelFixture.Seed, WeightFormat.F32, vocabulary, threads: 2);
        SyntheticModelBuilder.Build(other, SyntheticModelFixture.Tiny, SyntheticModelFixture.Seed + 1, WeightFormat.F32, vocabulary, threads: 2);
        SyntheticModelBuilder.Build(againQ8, SyntheticModelFixture.Tiny, SyntheticModelFixture.Seed, WeightFormat.Q8_0, vocabulary, threads: 2);

        Assert.Equal(Hash(fixture.PathOf(WeightFormat.F32)), Hash(again));
        Assert.Equal(Hash(fixture.PathOf(WeightFormat.Q8_0)), Hash(againQ8));
        Assert.NotEqual(Hash(again), Hash(other));
        Assert.Equal(new FileInfo(again).Length, new FileInfo(other).Length);
    }

    [Fact]
    public void Quantised_files_hold_the_requested_types_and_leave_no_temporary_file()
    {
        var q8 = GgufReader.Read(fixture.PathOf(WeightFormat.Q8_0));
        var q4 = GgufReader.Read(fixture.PathOf(WeightFormat.Q4_0));

        Assert.All(q8.Tensors, t => Assert.Equal(t.Dimensions.Count == 1 ? GgmlType.F32 : GgmlType.Q8_0, t.Type));
        Assert.Equal(GgmlType.Q4_0, q4.Tensors.Single(t => t.Name == "blk.0.ffn_up.weight").Type);
        Assert.Equal(7, q8.MetadataByKey["general.file_type"].AsInt64()); // LLAMA_FTYPE_MOSTLY_Q8_0
        Assert.Equal(2, q4.MetadataByKey["general.file_type"].AsInt64()); // LLAMA_FTYPE_MOSTLY_Q4_0
        Assert.DoesNotContain(Directory.GetFiles(fixture.Directory), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static float[] ReadF32(string path, GgufFile file, string name)
    {
        var tensor = file.Tensors.Single(t => t.Name == name);
        Assert.Equal(GgmlType.F32, tensor.Type);
        var bytes = new byte[tensor.ElementCount * 4];
        using var stream = File.OpenRead(path);
        stream.Position = file.DataOffset + (long)tensor.Offset;
        stream.ReadExactly(bytes);
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
