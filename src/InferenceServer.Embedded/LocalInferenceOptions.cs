namespace InferenceServer.Embedded;

/// <summary>
/// What <see cref="LocalInference"/> loads and how its engines run. <see cref="ModelPath"/> (with <see cref="ModelId"/>,
/// <see cref="ContextSize"/>, <see cref="Parallel"/>, <see cref="ChatTemplate"/> and <see cref="LoraAdapters"/>) is the
/// first model, the default where a request names none; <see cref="Models"/> adds more. Every model loads at start.
/// </summary>
public sealed class LocalInferenceOptions
{
    /// <summary>A GGUF file: the default model.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The default model's id (what <c>ChatOptions.ModelId</c> names); the file name without .gguf if unset.</summary>
    public string? ModelId { get; set; }

    /// <summary>The default model's KV cells, split evenly between its sequences (each request holds at most ContextSize / Parallel tokens); 0 = min(trained context, 4096) × <see cref="Parallel"/>.</summary>
    public int ContextSize { get; set; }

    /// <summary>How many requests the default model's engine decodes together (its sequences); more wait in its queue.</summary>
    public int Parallel { get; set; } = 8;

    /// <summary>A Jinja chat template file, or a llama.cpp built-in template name, instead of the default model's own.</summary>
    public string? ChatTemplate { get; set; }

    /// <summary>LoRA adapters loaded into the default model; a request picks them with <c>ModelId = "BASE:ADAPTER"</c>.</summary>
    public IList<LocalLoraAdapter> LoraAdapters { get; } = [];

    /// <summary>More models, chosen by <c>ChatOptions.ModelId</c>.</summary>
    public IList<LocalModelOptions> Models { get; } = [];

    /// <summary>CPU threads for decoding; 0 = every core.</summary>
    public int Threads { get; set; }

    /// <summary>Most tokens one decode takes (llama.cpp's batch size).</summary>
    public int BatchSize { get; set; } = 512;

    /// <summary>Reuse the KV of prompt prefixes already computed (on by default).</summary>
    public bool PrefixCaching { get; set; } = true;

    /// <summary>Most requests waiting for a sequence per model; one more is refused as overloaded.</summary>
    public int MaxQueuedRequests { get; set; } = 256;
}

/// <summary>One more model for <see cref="LocalInferenceOptions.Models"/>; its settings mean what the default model's do.</summary>
public sealed class LocalModelOptions
{
    /// <inheritdoc cref="LocalInferenceOptions.ModelPath"/>
    public required string ModelPath { get; set; }

    /// <inheritdoc cref="LocalInferenceOptions.ModelId"/>
    public string? ModelId { get; set; }

    /// <inheritdoc cref="LocalInferenceOptions.ContextSize"/>
    public int ContextSize { get; set; }

    /// <inheritdoc cref="LocalInferenceOptions.Parallel"/>
    public int Parallel { get; set; } = 8;

    /// <inheritdoc cref="LocalInferenceOptions.ChatTemplate"/>
    public string? ChatTemplate { get; set; }

    /// <inheritdoc cref="LocalInferenceOptions.LoraAdapters"/>
    public IList<LocalLoraAdapter> LoraAdapters { get; } = [];
}

/// <summary>A LoRA adapter file, the name requests use for it, and the scale it applies at unless a request says otherwise.</summary>
public sealed record LocalLoraAdapter(string Name, string Path, float Scale = 1f);
