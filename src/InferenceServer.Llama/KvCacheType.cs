using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// An element type for the KV cache, named as llama-server's --cache-type-k/-v name it. Quantised types store
/// blocks of <see cref="BlockLength"/> values in <see cref="BlockBytes"/> bytes, so a head's length must be a
/// multiple of the block: llama.cpp does not check that at context creation and fails later, inside a decode.
/// </summary>
public sealed record KvCacheType(string Name, GGMLType Native, int BlockLength, int BlockBytes)
{
    public static readonly KvCacheType F32 = new("f32", GGMLType.GGML_TYPE_F32, 1, 4);
    public static readonly KvCacheType F16 = new("f16", GGMLType.GGML_TYPE_F16, 1, 2);
    // LLamaSharp 0.30.0's GGMLType has no name for ggml's GGML_TYPE_BF16 (30).
    public static readonly KvCacheType BF16 = new("bf16", (GGMLType)30, 1, 2);
    public static readonly KvCacheType Q8_0 = new("q8_0", GGMLType.GGML_TYPE_Q8_0, 32, 34);
    public static readonly KvCacheType Q4_0 = new("q4_0", GGMLType.GGML_TYPE_Q4_0, 32, 18);

    public static readonly IReadOnlyList<KvCacheType> All = [F32, F16, BF16, Q8_0, Q4_0];

    public bool IsQuantized => BlockLength > 1;

    /// <summary>The type called <paramref name="name"/>, or null.</summary>
    public static KvCacheType? Parse(string name) => All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Bytes that <paramref name="values"/> values take (a multiple of the block length).</summary>
    public long Bytes(long values) => values / BlockLength * BlockBytes;
}

/// <summary>
/// The attention shape a model's KV cache follows, read from its GGUF metadata, and its weights' llama_ftype
/// (general.file_type; null when the file does not say): what the choice of key type, and whether decodes are
/// batch-invariant, depend on.
/// </summary>
public sealed record KvShape(long Layers, long KvHeads, long KeyLength, long ValueLength, string? WeightFileType = null)
{
    /// <summary>Quantised weights (not ALL_F32, MOSTLY_F16 or MOSTLY_BF16): their matmul uses integer dot products.</summary>
    public bool QuantisedWeights => WeightFileType is not (null or "0" or "1" or "32");

    /// <summary>
    /// Whether the weights' matmuls give a row the same sums in any batch: Q8_0 and Q4_0 (llama_ftype 7 and 2; prompt
    /// chunks and verification batches measured bit-identical). K-quants are not (their repacked kernels sum a
    /// multi-row batch of one sequence in another order: 40 of 40 later rows differ by where a chunk starts, and every
    /// verified row), nor F32 and F16 weights, whose matmul takes another path by batch size.
    /// </summary>
    public bool BatchInvariantWeights => WeightFileType is "7" or "2";

    public static KvShape FromMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        long Read(string key, long fallback) =>
            metadata.TryGetValue($"{metadata.GetValueOrDefault("general.architecture")}.{key}", out var text) && long.TryParse(text, out var value) ? value : fallback;
        var embedding = Read("embedding_length", 0);
        var heads = Math.Max(Read("attention.head_count", 1), 1);
        return new KvShape(Read("block_count", 0), Read("attention.head_count_kv", heads),
            Read("attention.key_length", embedding / heads), Read("attention.value_length", embedding / heads),
            metadata.GetValueOrDefault("general.file_type"));
    }

    /// <summary>Bytes one KV cell (one token's keys and values in every layer) takes with these types.</summary>
    public long BytesPerCell(KvCacheType keys, KvCacheType values) => Layers * KvHeads * (keys.Bytes(KeyLength) + values.Bytes(ValueLength));

    /// <summary>
    /// The key type that keeps a sequence's logits the same alone, beside other sequences and in a speculative
    /// verification batch (see <see cref="Exact"/>): when the values attend as f16, q8_0 where the key head length is a
    /// whole number of its blocks (a quarter less memory), else bf16; f16 beside any other value type, and for
    /// unquantised weights, whose matmul rounds by batch shape anyway (so less precise keys would buy nothing).
    /// </summary>
    public KvCacheType ExactKeys(KvCacheType values) =>
        !AttendsAsF16(values) || !QuantisedWeights ? KvCacheType.F16
        : KeyLength % KvCacheType.Q8_0.BlockLength == 0 ? KvCacheType.Q8_0
        : KvCacheType.BF16;

    /// <summary>
    /// Whether llama.cpp's CPU flash attention computes a query the same way in every batch shape. When keys and values
    /// are both f16 (f32 is cast to f16 first) it has three paths that sum in different orders: a lone query over a view
    /// of 512 cells or more (a sequence decoding alone past 256 tokens) is split across threads and merged, large
    /// prompt batches are tiled, every other batch runs in one pass. Any other pair of types takes the one-pass path.
    /// </summary>
    public static bool Exact(KvCacheType keys, KvCacheType values) => !(AttendsAsF16(keys) && AttendsAsF16(values));

    private static bool AttendsAsF16(KvCacheType type) => type == KvCacheType.F16 || type == KvCacheType.F32;

    /// <summary>Null when the types fit this shape, else why not (for --cache-type-k/-v).</summary>
    public string? FindProblem(KvCacheType keys, KvCacheType values)
    {
        if (KeyLength % keys.BlockLength != 0)
            return $"--cache-type-k {keys.Name} needs a key head length that is a multiple of {keys.BlockLength}; this model's is {KeyLength}.";
        if (ValueLength % values.BlockLength != 0)
            return $"--cache-type-v {values.Name} needs a value head length that is a multiple of {values.BlockLength}; this model's is {ValueLength}.";
        return null;
    }
}
