using LLama;
using LLama.Common;

namespace InferenceServer.SyntheticModels.Tests;

/// <summary>
/// A model and a small context, loaded the way the tests need them. One thread: with two, ggml's
/// threads spin on a barrier after every graph node, and on this shared, oversubscribed 2-core machine
/// that made a tiny model decode at 1 token/s instead of 400 (measured).
/// </summary>
internal sealed class LlamaTestSession : IDisposable
{
    public LlamaTestSession(string modelPath)
    {
        var parameters = new ModelParams(modelPath) { ContextSize = 256, BatchSize = 64, UBatchSize = 64, Threads = 1, BatchThreads = 1 };
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
