using LLama;
using LLama.Common;
using LLama.Native;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>The tiny model the grammars run on, loaded once for the whole test run (loading is the slow part).</summary>
public sealed class ModelsFixture : IDisposable
{
    public ModelsFixture()
    {
        NativeLogConfig.llama_log_set((_, _) => { });
        StoriesParams = new ModelParams(TestFixtures.Model("stories260K.gguf"))
        {
            ContextSize = 512, BatchSize = 512, UBatchSize = 512, Threads = 1, BatchThreads = 1,
        };
        Stories = LLamaWeights.LoadFromFile(StoriesParams);
    }

    /// <summary>stories260K: SentencePiece with byte-fallback tokens, so it can spell any text.</summary>
    public LLamaWeights Stories { get; }
    public ModelParams StoriesParams { get; }

    public void Dispose()
    {
        Stories.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ModelsCollection : ICollectionFixture<ModelsFixture>
{
    public const string Name = "models";
}
