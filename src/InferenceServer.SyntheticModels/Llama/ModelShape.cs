namespace InferenceServer.SyntheticModels.Llama;

/// <summary>
/// The hyper-parameters of a llama-architecture model. Invariants (checked by <see cref="Validate"/>):
/// heads divide n_embd, KV heads divide heads, every dimension positive.
/// </summary>
internal sealed record ModelShape(
    string Name,
    int EmbeddingLength,
    int BlockCount,
    int HeadCount,
    int KvHeadCount,
    int FeedForwardLength,
    int ContextLength)
{
    /// <summary>
    /// Named shapes. Widths and FFN sizes are multiples of 256 (except tiny) so Q4_K's 256-element
    /// super-blocks fit every row. Parameter counts are with the 32,000-token LLaMA vocabulary and an
    /// untied output matrix.
    /// </summary>
    public static IReadOnlyList<ModelShape> Named { get; } =
    [
        // For tests: ~4.2M parameters, almost all of them the two 32k x 64 embedding matrices.
        new("tiny", EmbeddingLength: 64, BlockCount: 2, HeadCount: 2, KvHeadCount: 1, FeedForwardLength: 128, ContextLength: 2048),
        new("25m", 256, 8, 8, 4, 1024, 2048),           // 24.3M
        new("100m", 768, 8, 12, 4, 2048, 2048),         // 99.5M: 125m with 8 layers
        new("125m", 768, 12, 12, 4, 2048, 2048),        // 124.7M: the shape compared against llama-server
        new("500m", 1280, 24, 20, 4, 3584, 4096),       // 506.5M
        new("1b", 2048, 22, 32, 4, 5632, 4096),         // 1.10B: TinyLlama-1.1B's shape
    ];

    public int HeadDimension => EmbeddingLength / HeadCount;

    /// <summary>Width of K and V: head dimension times KV heads (smaller than n_embd under GQA).</summary>
    public int KvEmbeddingLength => HeadDimension * KvHeadCount;

    public static ModelShape? Find(string name) =>
        Named.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    public void Validate()
    {
        if (EmbeddingLength <= 0 || BlockCount <= 0 || HeadCount <= 0 || KvHeadCount <= 0 || FeedForwardLength <= 0 || ContextLength <= 0)
        {
            throw new ArgumentException($"Shape '{Name}': every dimension must be positive.");
        }

        if (EmbeddingLength % HeadCount != 0)
        {
            throw new ArgumentException($"Shape '{Name}': {HeadCount} heads do not divide n_embd {EmbeddingLength}.");
        }

        if (HeadCount % KvHeadCount != 0)
        {
            throw new ArgumentException($"Shape '{Name}': {KvHeadCount} KV heads do not divide {HeadCount} heads.");
        }

        if (HeadDimension % 2 != 0)
        {
            throw new ArgumentException($"Shape '{Name}': head dimension {HeadDimension} must be even for RoPE.");
        }
    }

    public long ParameterCount(int vocabularySize) =>
        LlamaTensorLayout.For(this, vocabularySize).Sum(t => t.Plan.ElementCount);
}
