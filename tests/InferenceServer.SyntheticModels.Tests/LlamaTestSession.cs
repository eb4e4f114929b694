using LLama;
using LLama.Common;

namespace InferenceServer.SyntheticModels.Tests;

/// <summary>A model and a small context, loaded the way the tests need them.</summary>
internal sealed class LlamaTestSession : IDisposable
{
    public LlamaTestSession(string modelPath)
    {
        var parameters = new ModelParams(modelPath) { ContextSize = 256, BatchSize = 64, UBatchSize = 64, Threads = 2, BatchThreads = 2 };
        Weights = LLamaWeights.LoadFromFile(parameters);
        Context = Weights.CreateContext(parameters);
    }

    public LLamaWeights Weights { get; }

    public LLamaContext Context { get; }

    public void Dispose()
    {
        Context.Dispose();
        Weights.Dispose();
    }
}
