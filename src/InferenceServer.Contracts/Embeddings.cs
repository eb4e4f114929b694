namespace InferenceServer.Contracts;

/// <summary>Turns token sequences into L2-normalised vectors with the loaded model. Thread-safe.</summary>
public interface IEmbeddingModel
{
    int Dimensions { get; }

    /// <summary>Most tokens one input may have.</summary>
    int MaxInputTokens { get; }

    /// <summary>One vector per input, in input order; inputs are batched into as few decodes as fit.</summary>
    Task<IReadOnlyList<float[]>> EmbedAsync(IReadOnlyList<int[]> inputs, CancellationToken cancellationToken);
}
