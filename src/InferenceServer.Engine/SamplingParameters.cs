namespace InferenceServer.Engine;

/// <summary>How one request picks tokens. Temperature 0 means greedy.</summary>
public sealed record SamplingParameters(float Temperature = 1f, float TopP = 1f, uint Seed = 0)
{
    public bool IsGreedy => Temperature <= 0f;
}
