using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Embedded.Tests;

[Collection(LocalInferenceCollection.Name)]
public class EmbeddingGeneratorTests(LocalInferenceFixture fixture)
{
    [Fact]
    public async Task Embeddings_are_unit_vectors_one_per_input_in_order()
    {
        using var generator = new EmbeddingGeneratorBuilder<string, Embedding<float>>(fixture.Local.GetEmbeddingGenerator())
            .UseOpenTelemetry(sourceName: LocalInferenceFixture.SourceName)
            .Build();
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;

        var embeddings = await generator.GenerateAsync(["a cat sat", "the dog ran far away", "a cat sat"]);

        Assert.Equal(3, embeddings.Count);
        Assert.All(embeddings, e => Assert.Equal(metadata.DefaultModelDimensions, e.Vector.Length));
        Assert.All(embeddings, e => Assert.InRange(Math.Sqrt(e.Vector.ToArray().Sum(x => (double)x * x)), 0.999, 1.001));
        // The same text embeds alike (not bit for bit: its place in the batch changes the rounding); another text does not.
        Assert.InRange(Cosine(embeddings[0], embeddings[2]), 0.9999, 1.0001);
        Assert.True(Cosine(embeddings[0], embeddings[1]) < 0.999, $"cosine {Cosine(embeddings[0], embeddings[1])}");
        Assert.True(embeddings.Usage!.InputTokenCount > 3);
    }

    private static double Cosine(Embedding<float> a, Embedding<float> b) =>
        a.Vector.ToArray().Zip(b.Vector.ToArray()).Sum(p => (double)p.First * p.Second);

    [Fact]
    public async Task Dependency_injection_registers_the_chat_client_and_the_generator()
    {
        var services = new ServiceCollection();
        services.AddLocalInference(o =>
        {
            o.ModelPath = TestFixtures.Model("TinyStories-656K-Q8_0-chatml.gguf");
            o.Parallel = 2;
            o.Threads = 1;
        }).UseFunctionInvocation();
        await using var provider = services.BuildServiceProvider();

        var chat = provider.GetRequiredService<IChatClient>();
        var response = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        var embedding = await provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().GenerateVectorAsync("a cat");

        Assert.Equal("TinyStories-656K-Q8_0-chatml", response.ModelId);
        Assert.True(response.Usage!.OutputTokenCount > 0);
        Assert.True(embedding.Length > 0);
    }
}
