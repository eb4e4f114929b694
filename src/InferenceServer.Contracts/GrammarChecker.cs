using InferenceServer.Engine;

namespace InferenceServer.Contracts;

/// <summary>Checks a grammar against the loaded model before sampling uses it. Thread-safe.</summary>
public interface IGrammarChecker
{
    /// <summary>Null when the grammar is usable with this model, else why not.</summary>
    string? FindProblem(SamplingGrammar grammar);
}
