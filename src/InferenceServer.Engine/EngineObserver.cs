namespace InferenceServer.Engine;

/// <summary>
/// Hears what the engine does, for metrics and logs. Called on the engine loop's thread: implementations
/// must be quick and must not throw.
/// </summary>
public interface IEngineObserver
{
    /// <summary>A decode ran: how many prompt tokens and generated tokens it held.</summary>
    void StepDecoded(int promptTokens, int generatedTokens, TimeSpan duration);

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

    public void StepDecoded(int promptTokens, int generatedTokens, TimeSpan duration)
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
