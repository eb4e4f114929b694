using LLama;
using LLama.Common;
using LLama.Native;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>Finds ../shared/models by walking up from the test binaries (or INFERENCE_TEST_MODELS).</summary>
internal static class TestModels
{
    public static string PathOf(string file)
    {
        var overrideDir = Environment.GetEnvironmentVariable("INFERENCE_TEST_MODELS");
        if (!string.IsNullOrEmpty(overrideDir))
            return Path.Combine(overrideDir, file);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "models", file);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"test model {file} not found above {AppContext.BaseDirectory}; set INFERENCE_TEST_MODELS");
    }
}

/// <summary>Both tiny models, loaded once for the whole test run (loading is the slow part).</summary>
public sealed class ModelsFixture : IDisposable
{
    public ModelsFixture()
    {
        NativeLogConfig.llama_log_set((_, _) => { });
        StoriesParams = new ModelParams(TestModels.PathOf("stories260K.gguf"))
        {
            ContextSize = 512, BatchSize = 512, UBatchSize = 512, Threads = 1, BatchThreads = 1,
        };
        Stories = LLamaWeights.LoadFromFile(StoriesParams);
        TinyStories = LLamaWeights.LoadFromFile(new ModelParams(TestModels.PathOf("TinyStories-656K-Q8_0.gguf")) { ContextSize = 256 });
    }

    /// <summary>stories260K: SentencePiece with byte-fallback tokens, so it can spell any text.</summary>
    public LLamaWeights Stories { get; }
    public ModelParams StoriesParams { get; }

    /// <summary>TinyStories-656K: no byte fallback and no '{', '}', '[', ']' in any token.</summary>
    public LLamaWeights TinyStories { get; }

    public void Dispose()
    {
        Stories.Dispose();
        TinyStories.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ModelsCollection : ICollectionFixture<ModelsFixture>
{
    public const string Name = "models";
}
