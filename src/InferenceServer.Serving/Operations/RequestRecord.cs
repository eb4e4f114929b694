using System.Text;
using InferenceServer.Engine;

namespace InferenceServer.Operations;

/// <summary>
/// What one HTTP request did in the engine, gathered for its summary log line, its spans and its metrics.
/// Set as an HttpContext feature by <see cref="RequestPipeline"/>; filled from the engine's loop thread, so guarded by a lock.
/// </summary>
internal sealed class RequestRecord
{
    private readonly Lock _lock = new();
    private readonly List<(DateTimeOffset SubmittedAt, GenerationFinished Finished)> _finished = [];
    private readonly List<(string EngineId, DateTimeOffset SubmittedAt)> _submitted = [];

    public string? Model { get; set; }

    /// <summary>Completion text, kept only with --log-prompts.</summary>
    public StringBuilder? Completion { get; set; }

    public IReadOnlyList<(string EngineId, DateTimeOffset SubmittedAt)> Submitted
    {
        get { lock (_lock) return _submitted.ToList(); }
    }

    public IReadOnlyList<(DateTimeOffset SubmittedAt, GenerationFinished Finished)> Finished
    {
        get { lock (_lock) return _finished.ToList(); }
    }

    public void AddSubmitted(string engineId, DateTimeOffset at)
    {
        lock (_lock) _submitted.Add((engineId, at));
    }

    public void AddFinished(DateTimeOffset submittedAt, GenerationFinished finished)
    {
        lock (_lock) _finished.Add((submittedAt, finished));
    }
}
