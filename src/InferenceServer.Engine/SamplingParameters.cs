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

    /// <summary>A grammar that holds only from a trigger in the output on (strict tools in <c>auto</c> mode); null = none.</summary>
    public LazyGrammar? LazyGrammar { get; init; }
}

/// <summary>
/// A GBNF grammar and its start rule. Only grammars that the model's grammar checker accepted may be
/// given to the engine: llama.cpp crashes the process on a grammar it rejects.
/// </summary>
public sealed record SamplingGrammar(string Gbnf, string Root = "root")
{
    /// <summary>
    /// The grammar of <paramref name="written"/> followed by this grammar's language: for a trigger that begins inside a
    /// token, whose earlier text the grammar must accept too. Every character is a code-point escape, so no text can
    /// break the literal; the grammar checker must still vet the result.
    /// </summary>
    public SamplingGrammar After(string written) =>
        new($"{Gbnf}\nwritten-before-{Root} ::= \"{string.Concat(written.EnumerateRunes().Select(r => $"\\U{r.Value:X8}"))}\" {Root}\n", $"written-before-{Root}");
}

/// <summary>
/// A grammar that waits for a trigger, as llama.cpp's lazy grammars do: the output is free until it writes one of
/// <see cref="Markers"/> anywhere, or its answer begins (after whitespace) with one of <see cref="Openings"/>; from
/// the trigger's first character on, the output must match <see cref="Grammar"/>. When the grammar is complete
/// (it allows only the end of generation) the output ends there, or with <see cref="Rearm"/> is free again until the
/// next marker. Triggers inside a leading reasoning block (<see cref="Reasoning"/>) do not count.
/// </summary>
public sealed record LazyGrammar(SamplingGrammar Grammar, IReadOnlyList<string> Markers, IReadOnlyList<string> Openings, bool Rearm)
{
    public ReasoningBlock? Reasoning { get; init; }
}

/// <summary>How a thinking model's reasoning block is marked, and whether the prompt already opened it.</summary>
public sealed record ReasoningBlock(string Open, string Close, bool StartsInside);
