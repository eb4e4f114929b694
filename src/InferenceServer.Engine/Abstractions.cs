namespace InferenceServer.Engine;

/// <summary>A KV-cache sequence id inside the model's one context. Held by at most one running request.</summary>
public readonly record struct SequenceSlot(int Value);

/// <summary>One token of a decode batch: which sequence it belongs to, its position, and whether its logits are wanted.</summary>
public readonly record struct BatchToken(int Token, int Position, SequenceSlot Slot, bool WantLogits);

/// <summary>
/// What the engine needs to know about the loaded model and its context. Sequence ids below
/// <see cref="MaxSequences"/> run requests; the rest, up to <see cref="SequenceIds"/>, hold prefix-cache
/// nodes. <see cref="SequenceCapacity"/> is set when every sequence has its own KV stream of that many
/// cells (llama.cpp's non-unified cache); null when the cells are one pool shared by all sequences.
/// <see cref="BatchInvariant"/>: a token's logits do not depend on the batch it is decoded in (llama.cpp's CPU
/// attention with keys and values not both f16, over weights whose matmul sums a row the same way in any batch),
/// so how a prompt is cut into chunks, and whether its last token rides with the rest, cannot change a logit.
/// </summary>
public sealed record ModelLimits(
    int ContextCells,
    int TrainedContextLength,
    int MaxSequences,
    int BatchTokens,
    int SequenceIds = 256,
    int? SequenceCapacity = null,
    bool BatchInvariant = false)
{
    public int CellsPerSequence => SequenceCapacity ?? ContextCells;

    /// <summary>Each sequence attends over its own stream only: what else runs cannot change its logits.</summary>
    public bool StreamPerSequence => SequenceCapacity is not null;
}

/// <summary>
/// The model side of the engine: decodes batches and owns per-sequence KV and samplers.
/// Implemented over llama.cpp; faked in tests. Called from the engine loop's thread only.
/// </summary>
public interface IModelExecutor : IKvCacheOperations
{
    ModelLimits Limits { get; }

    /// <summary>Decodes one batch. The i-th token with <see cref="BatchToken.WantLogits"/> can then be sampled with logits row i.</summary>
    void Decode(IReadOnlyList<BatchToken> batch);

    /// <summary>
    /// Sets the adapters every following decode runs under (the whole context: llama.cpp has no per-sequence
    /// adapters). The engine calls it only when the set changes between steps, and holds a reference on
    /// every adapter of the set for as long as a sequence using it runs.
    /// </summary>
    void ApplyAdapters(AdapterSet adapters);

    /// <summary>Logits row <paramref name="batchIndex"/> of the last decode (one value per vocabulary token), valid until the next decode.</summary>
    ReadOnlySpan<float> Logits(int batchIndex);

    /// <summary>Creates the sampler one request uses for all of its tokens.</summary>
    ITokenSampler CreateSampler(SamplingParameters parameters);

    /// <summary>
    /// Creates a sampler under <see cref="SamplingParameters.Grammar"/> that a lazy grammar switches to at its trigger.
    /// The grammar is vetted first (a grammar llama.cpp rejects would crash the process).
    /// </summary>
    /// <exception cref="ArgumentException">The grammar is unusable with this model.</exception>
    IGrammarSampler CreateGrammarSampler(SamplingParameters parameters);
}

/// <summary>Samples the next token of one sequence from a logits row of the last decode.</summary>
public interface ITokenSampler : IDisposable
{
    int Sample(int batchIndex);
}

/// <summary>A sampler under a grammar that can also take tokens it did not pick: the text written before its grammar took over.</summary>
public interface IGrammarSampler : ITokenSampler
{
    /// <summary>Advances the grammar over a token; false (and no change) when the grammar does not allow it next.</summary>
    bool TryAccept(int token);

    /// <summary>Whether, at the last <see cref="ITokenSampler.Sample"/>, the grammar was complete: it allowed nothing but the end of generation.</summary>
    bool Complete { get; }
}

/// <summary>Text ↔ tokens for the loaded model. Thread-safe.</summary>
public interface ITokenizer
{
    /// <summary>Null when every character of the text can be tokenized, else a message naming the first one that cannot.</summary>
    string? FindUnencodable(string text);

    int[] Tokenize(string text, bool addBos, bool parseSpecial);

    int VocabularySize { get; }

    /// <summary>The text of a token sequence.</summary>
    string Detokenize(IReadOnlyList<int> tokens);

    /// <summary>One token's own bytes: its text in UTF-8, or one byte of a character for a byte-fallback token.</summary>
    byte[] PieceBytes(int token);

    bool IsEndOfGeneration(int token);

    /// <summary>A decoder that turns a token stream into text without splitting multi-byte characters.</summary>
    ITokenTextDecoder CreateDecoder();
}

public interface ITokenTextDecoder
{
    /// <summary>Adds a token and returns the text that is now complete (possibly empty).</summary>
    string Add(int token);
}
