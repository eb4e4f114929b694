using LLama;
using LLama.Common;
using LLama.Native;

namespace InferenceServer.Llama.Tests;

/// <summary>The tiny fixture models whose vocabularies and templates differ where this layer's guards matter, loaded once per run.</summary>
public sealed class TinyModels : IDisposable
{
    public TinyModels()
    {
        NativeLogConfig.llama_log_set((_, _) => { });
        Stories = Load("stories260K.gguf");
        StoriesChatml = Load("stories260K-chatml.gguf");
        TinyStories = Load("TinyStories-656K-Q8_0.gguf");
    }

    private static LLamaWeights Load(string file) => LLamaWeights.LoadFromFile(new ModelParams(TestFixtures.Model(file)) { ContextSize = 256 });

    /// <summary>stories260K: SentencePiece with byte-fallback tokens, so it can spell any text; no chat template.</summary>
    public LLamaWeights Stories { get; }

    /// <summary>stories260K with a ChatML Jinja template in its GGUF metadata.</summary>
    public LLamaWeights StoriesChatml { get; }

    /// <summary>TinyStories-656K: no byte fallback and no '{', '}', '[', ']' in any token.</summary>
    public LLamaWeights TinyStories { get; }

    public void Dispose()
    {
        Stories.Dispose();
        StoriesChatml.Dispose();
        TinyStories.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelsCollection : ICollectionFixture<TinyModels>
{
    public const string Name = "tiny models";
}
