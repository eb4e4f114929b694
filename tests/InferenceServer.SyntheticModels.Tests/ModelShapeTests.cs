using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.SyntheticModels.Tests;

public sealed class ModelShapeTests
{
    [Theory]
    [InlineData("125m", 124_000_000, 125_500_000)]
    [InlineData("100m", 95_000_000, 105_000_000)]
    [InlineData("25m", 23_000_000, 27_000_000)]
    [InlineData("500m", 480_000_000, 520_000_000)]
    [InlineData("1b", 1_000_000_000, 1_200_000_000)]
    public void Named_shapes_have_the_parameter_count_their_name_says(string name, long low, long high)
    {
        var shape = ModelShape.Find(name)!;
        // Counted independently of the tensor layout: two vocab x n_embd matrices, a final norm, and per block
        // two norms, Q and O (n_embd^2), K and V (n_embd x kv width), gate/up/down (n_embd x ffn).
        long e = shape.EmbeddingLength, kv = e / shape.HeadCount * shape.KvHeadCount, f = shape.FeedForwardLength;
        var expected = 2 * 32000 * e + e + shape.BlockCount * (2 * e + 2 * e * e + 2 * e * kv + 3 * e * f);

        Assert.Equal(expected, shape.ParameterCount(32000));
        Assert.InRange(expected, low, high);
    }

    [Fact]
    public void The_125m_shape_is_the_one_compared_with_llama_server()
    {
        var shape = ModelShape.Find("125m")!;
        Assert.Equal((768, 12, 12, 4, 2048), (shape.EmbeddingLength, shape.BlockCount, shape.HeadCount, shape.KvHeadCount, shape.FeedForwardLength));
    }

    [Theory]
    [InlineData("25m")]
    [InlineData("100m")]
    [InlineData("125m")]
    [InlineData("500m")]
    [InlineData("1b")]
    public void Benchmark_shapes_fit_q4_k_super_blocks(string name)
    {
        var shape = ModelShape.Find(name)!;
        Assert.Equal(0, shape.EmbeddingLength % 256);
        Assert.Equal(0, shape.FeedForwardLength % 256);
        Assert.Equal(0, shape.HeadDimension % 32); // quantised KV caches need it
    }

    [Theory]
    [InlineData(64, 3, 1)]  // heads do not divide n_embd
    [InlineData(64, 4, 3)]  // KV heads do not divide heads
    [InlineData(0, 1, 1)]
    public void Invalid_shapes_are_rejected(int embedding, int heads, int kvHeads)
    {
        var shape = new ModelShape("bad", embedding, 2, heads, kvHeads, 128, 512);
        Assert.Throws<ArgumentException>(shape.Validate);
    }
}
