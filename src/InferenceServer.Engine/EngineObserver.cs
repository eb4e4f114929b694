namespace InferenceServer.Engine;

/// <summary>
/// Where one engine step's time went, phase by phase, and what its decode held. <see cref="Idle"/> is how long
/// the loop slept before the step because nothing was runnable; the other phases run back to back:
/// <see cref="Schedule"/> (arrivals, cancellations, admission, building the batch), <see cref="Decode"/> (the model),
/// <see cref="Sample"/> (picking each sequence's token, with its logprobs), <see cref="Output"/> (detokenizing,
/// stop matching, publishing text and finishes).
/// </summary>
public readonly record struct StepTimings(int PromptTokens, int GeneratedTokens, TimeSpan Idle, TimeSpan Schedule, TimeSpan Decode, TimeSpan Sample, TimeSpan Output);

/// <summary>
/// Hears what the engine does, for metrics and logs. Called on the engine loop's thread: implementations
/// must be quick and must not throw.
/// </summary>
public interface IEngineObserver
{
    /// <summary>A step decoded a batch: its phases' durations and how many prompt and generated tokens it fed.</summary>
    void StepDecoded(in StepTimings step);

    /// <summary>A request got a sequence after waiting this long.</summary>
    void RequestAdmitted(string requestId, TimeSpan queueWait);

    /// <summary>A request produced another token; <paramref name="sinceLastToken"/> is null for its first.</summary>
    void TokenGenerated(string requestId, TimeSpan? sinceLastToken);

    void RequestFinished(string requestId, GenerationFinished finished);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullEngineObserver : IEngineObserver
{
    public static readonly NullEngineObserver Instance = new();

    public void StepDecoded(in StepTimings step)
    {
    }

    public void RequestAdmitted(string requestId, TimeSpan queueWait)
    {
    }

    public void TokenGenerated(string requestId, TimeSpan? sinceLastToken)
    {
    }

    public void RequestFinished(string requestId, GenerationFinished finished)
    {
    }
}
