namespace InferenceServer.Engine;

/// <summary>
/// How one request picks tokens. Temperature 0 means greedy. <see cref="Grammar"/> constrains every token.
/// Each filter is off at its neutral value (TopK 0, MinP 0, penalties 0, RepetitionPenalty 1).
/// </summary>
public sealed record SamplingParameters(float Temperature = 1f, float TopP = 1f, uint Seed = 0, SamplingGrammar? Grammar = null)
{
    public bool IsGreedy => Temperature <= 0f;
    public int TopK { get; init; }
    public float MinP { get; init; }
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>How many recent tokens the penalties look at.</summary>
    public int PenaltyWindow { get; init; } = 64;

    /// <summary>Added to a token's logit; negative infinity bans it.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    public bool HasPenalties => FrequencyPenalty != 0 || PresencePenalty != 0 || RepetitionPenalty != 1f;
}

/// <summary>
/// A GBNF grammar and its start rule. Only grammars that the model's grammar checker accepted may be
/// given to the engine: llama.cpp crashes the process on a grammar it rejects.
/// </summary>
public sealed record SamplingGrammar(string Gbnf, string Root = "root");
