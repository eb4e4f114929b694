using InferenceServer.Contracts;
using InferenceServer.Engine;
using LLama;

namespace InferenceServer.Llama;

/// <summary>Vets grammars with <see cref="GrammarGuard"/> against the loaded model's vocabulary. Thread-safe.</summary>
internal sealed class LlamaGrammarChecker(LLamaWeights weights) : IGrammarChecker
{
    public string? FindProblem(SamplingGrammar grammar) => GrammarGuard.Check(weights.NativeHandle, grammar.Gbnf, grammar.Root).Error;
}
