using System.Text;
using InferenceServer.SyntheticModels.Benchmark;
using InferenceServer.SyntheticModels.Llama;
using LLama;

namespace InferenceServer.SyntheticModels.Tests;

[Collection(SyntheticModelCollection.Name)]
public sealed class LlamaLoadTests(SyntheticModelFixture fixture)
{
    public static TheoryData<string> Formats => new() { nameof(WeightFormat.F32), nameof(WeightFormat.Q8_0), nameof(WeightFormat.Q4_0) };

    [Theory]
    [MemberData(nameof(Formats))]
    public void LLamaSharp_loads_the_model_and_reads_back_its_shape(string format)
    {
        using var session = new LlamaTestSession(fixture.PathOf(Enum.Parse<WeightFormat>(format)));
        var weights = session.Weights;

        Assert.Equal(64, weights.EmbeddingSize);
        Assert.Equal("64", weights.Metadata["llama.embedding_length"]);
        Assert.Equal("2", weights.Metadata["llama.block_count"]);
        Assert.Equal(32000, weights.Vocab.Count);
        Assert.Equal(SyntheticModelFixture.Tiny.ParameterCount(32000), (long)weights.ParameterCount);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_llama_vocabulary_tokenises_english_about_one_token_per_word_and_greedy_decoding_runs(string format)
    {
        using var session = new LlamaTestSession(fixture.PathOf(Enum.Parse<WeightFormat>(format)));

        var tokens = session.Weights.Tokenize("Hello world", false, false, Encoding.UTF8);
        var generated = GreedyDecoder.Generate(session.Weights, session.Context, "Hello world", 8);

        Assert.InRange(tokens.Length, 2, 3);
        Assert.Equal(8, generated.Count);
        Assert.All(generated, t => Assert.InRange(t, 0, 31999));
    }

    [Fact]
    public void The_model_carries_a_chatml_template_that_llama_cpp_applies()
    {
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.Q8_0));
        var template = new LLamaTemplate(session.Weights) { AddAssistant = true };
        template.Add("user", "Hi there");

        var prompt = Encoding.UTF8.GetString(template.Apply());

        Assert.Equal("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public void Decoding_several_streams_together_runs_and_is_timed()
    {
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.Q8_0));

        var prompt = session.Weights.Tokenize("Once upon a time", true, false, System.Text.Encoding.UTF8);

        var result = GreedyDecoder.MeasureThroughput(session.Context, streams: 4, tokensPerStream: 8, prompt);

        Assert.Equal(32, result.Streams * result.TokensPerStream);
        Assert.True(result.TokensPerSecond > 0);
        // The prefill of every prompt includes the first's, and the rate with it is the lower.
        Assert.True(result.PrefillAll >= result.Prefill);
        Assert.True(result.TokensPerSecondWithPrefill < result.TokensPerSecond);
    }
}
