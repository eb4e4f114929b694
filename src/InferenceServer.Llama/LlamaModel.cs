using InferenceServer.Contracts;
using InferenceServer.Engine;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Llama;

/// <summary>
/// Settings for loading one GGUF model and its context. ContextCells 0 = min(trained context, 4096) × MaxSequences.
/// By default each sequence has its own KV stream (ContextCells / MaxSequences cells): attention then never sees
/// other sequences' cells, so batching cannot change a sequence's logits. <see cref="KvUnified"/> makes the cells
/// one pool all sequences share (one may use the whole context; cells are shared without copies; not exact).
/// <see cref="ChatTemplate"/>: a Jinja file or a llama.cpp built-in template name that overrides the model's template.
/// </summary>
public sealed record LlamaModelSettings(
    string ModelPath,
    int ContextCells,
    int MaxSequences,
    int BatchTokens,
    int MicroBatchTokens,
    int Threads,
    bool KvUnified = false,
    string? ChatTemplate = null)
{
    /// <summary>Layers to offload to the GPU; 0 = all on the CPU (the only choice with the CPU backend).</summary>
    public int GpuLayers { get; init; }

    /// <summary>Element types of the KV cache's keys and values (llama-server's --cache-type-k/-v). No key type: the one
    /// <see cref="KvShape.ExactKeys"/> picks for the model (on the CPU; f16 with layers on a GPU).</summary>
    public KvCacheType? KeyType { get; init; }

    public KvCacheType ValueType { get; init; } = KvCacheType.F16;

    /// <summary>The key type for a model of <paramref name="shape"/>.</summary>
    public KvCacheType KeysFor(KvShape shape) => KeyType ?? (GpuLayers > 0 ? KvCacheType.F16 : shape.ExactKeys(ValueType));

    /// <summary>The context's KV cells for a model trained on <paramref name="trainedContext"/> tokens.</summary>
    public int ContextCellsFor(int trainedContext) => ContextCells > 0 ? ContextCells : Math.Min(trainedContext, 4096) * MaxSequences;
}

/// <summary>The model file cannot be used; the message says which file and why.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A loaded model: weights, one context, and what the engine and API need from them.</summary>
public sealed class LlamaModel : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LlamaExecutor _executor;
    private LlamaModelSettings _settings = null!;
    private LlamaDraftModel? _draft;

    private readonly LlamaEmbeddings _embeddings;

    private LlamaModel(LLamaWeights weights, LlamaExecutor executor, LlamaTokenizer tokenizer, IChatPromptRenderer renderer, int threads)
    {
        _weights = weights;
        _executor = executor;
        Tokenizer = tokenizer;
        ChatRenderer = renderer;
        Grammars = new LlamaGrammarChecker(weights);
        Adapters = new LoraAdapters(weights);
        _embeddings = new LlamaEmbeddings(weights, threads);
    }

    public IEmbeddingModel Embeddings => _embeddings;

    /// <summary>llama.cpp's ceiling on sequence ids in one context (LLAMA_MAX_SEQ).</summary>
    private const int MaxSequenceIds = 256;

    public IModelExecutor Executor => _executor;
    public ITokenizer Tokenizer { get; }
    public IChatPromptRenderer ChatRenderer { get; }
    public IGrammarChecker Grammars { get; }

    /// <summary>LoRA adapters loaded for this model; requests choose among them.</summary>
    public LoraAdapters Adapters { get; }

    /// <summary>Bytes one KV cell takes with the context's cache types.</summary>
    public long KvBytesPerCell { get; private init; }

    /// <summary>The draft model that drafts for this one (--draft-model), disposed with it; null when none.</summary>
    public IDraftModel? DraftModel => _draft;

    /// <summary>Loads a draft model of this model's vocabulary, with a context laid out like this one's. Throws <see cref="ModelLoadException"/>.</summary>
    public void LoadDraftModel(string path, float minP, ILogger logger) =>
        _draft = LlamaDraftModel.Load(path, _settings, _weights, _executor.Limits.ContextCells, minP, logger);

    /// <summary>Checks the file, loads the weights and creates the context. Throws <see cref="ModelLoadException"/> for an unusable file.</summary>
    public static LlamaModel Load(LlamaModelSettings settings, ILogger logger)
    {
        CheckGgufFile(settings.ModelPath);
        RouteNativeLogs(logger);

        // Requests use ids below MaxSequences; prefix-cache nodes hold cells under the rest. With the unified KV
        // cache all ids share one pool of cells, so more ids cost no memory. llama.cpp aborts the process when
        // creating a context with more sequence ids than --batch-size (GGML_ASSERT n_outputs_max), so no more.
        var sequenceIds = settings.KvUnified ? Math.Min(MaxSequenceIds, settings.BatchTokens) : settings.MaxSequences;
        var parameters = ContextParameters(settings, settings.ModelPath, sequenceIds);
        parameters.TypeV = settings.ValueType.Native;
        // llama.cpp stores a quantised V cache only with flash attention, and fails a decode, not the context, without it.
        parameters.FlashAttention = settings.ValueType.IsQuantized ? true : null;

        var weights = LoadWeights(parameters, "model");
        try
        {
            var shape = KvShape.FromMetadata(weights.Metadata);
            var keyType = settings.KeysFor(shape);
            if (shape.FindProblem(keyType, settings.ValueType) is { } problem)
                throw new ModelLoadException($"Cannot serve '{settings.ModelPath}' with this KV cache: {problem}");
            if (settings.KeyType is not null && !KvShape.Exact(keyType, settings.ValueType) && settings.Threads > 1 && settings.GpuLayers == 0)
                logger.LogWarning(
                    "The KV cache is {KeyType}/{ValueType}: a sequence that decodes alone past 256 cells may get other greedy tokens than beside other sequences or under speculative decoding (llama.cpp splits its attention across threads); --cache-type-k auto keeps it exact",
                    keyType.Name, settings.ValueType.Name);
            parameters.TypeK = keyType.Native;
            parameters.ContextSize = (uint)settings.ContextCellsFor(weights.ContextSize);
            var context = weights.CreateContext(parameters);
            var limits = new ModelLimits(
                ContextCells: (int)context.ContextSize,
                TrainedContextLength: weights.ContextSize,
                MaxSequences: settings.MaxSequences,
                BatchTokens: settings.BatchTokens,
                SequenceIds: sequenceIds,
                SequenceCapacity: settings.KvUnified ? null : (int)context.ContextSize / settings.MaxSequences,
                BatchInvariant: KvShape.Exact(keyType, settings.ValueType) && settings.GpuLayers == 0 && shape.BatchInvariantWeights);
            var renderer = ChatRenderers.Select(weights, settings.ChatTemplate, out var fallbackReason);
            if (fallbackReason is not null)
                logger.LogWarning("Chat prompts use the ChatML fallback because {Reason}", fallbackReason);
            logger.LogInformation(
                "Loaded {Model}: {Parameters:N0} parameters, vocabulary {Vocab}, trained context {Trained}, {Cells} KV cells ({KeyType}/{ValueType}, {KvMegabytes:N0} MB) {Layout} up to {Sequences} sequences, chat template {Template}",
                Path.GetFileName(settings.ModelPath), weights.ParameterCount, weights.NativeHandle.Vocab.Count,
                weights.ContextSize, limits.ContextCells, keyType.Name, settings.ValueType.Name,
                shape.BytesPerCell(keyType, settings.ValueType) * limits.ContextCells / (1024 * 1024),
                settings.KvUnified ? "shared by" : "split evenly between", limits.MaxSequences, renderer.Name);
            return new LlamaModel(weights, new LlamaExecutor(context, limits), new LlamaTokenizer(weights), renderer, settings.Threads)
            {
                _settings = settings,
                KvBytesPerCell = shape.BytesPerCell(keyType, settings.ValueType),
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>The KV layout, batch and threads of <paramref name="settings"/>, for the model at <paramref name="path"/>.</summary>
    internal static ModelParams ContextParameters(LlamaModelSettings settings, string path, int sequenceIds) => new(path)
    {
        SeqMax = (uint)sequenceIds,
        KVUnified = settings.KvUnified,
        BatchSize = (uint)settings.BatchTokens,
        UBatchSize = (uint)settings.MicroBatchTokens,
        Threads = settings.Threads,
        BatchThreads = settings.Threads,
        GpuLayerCount = settings.GpuLayers,
    };

    /// <summary>Loads a GGUF file's weights; llama.cpp's refusal becomes a <see cref="ModelLoadException"/> naming <paramref name="what"/> and the file.</summary>
    internal static LLamaWeights LoadWeights(LLama.Common.ModelParams parameters, string what)
    {
        try
        {
            return LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception ex)
        {
            throw new ModelLoadException($"Cannot load {what} '{parameters.ModelPath}': llama.cpp rejected it ({ex.Message}).", ex);
        }
    }

    /// <summary>Throws <see cref="ModelLoadException"/> unless the path is a readable file that starts like a GGUF file.</summary>
    public static void CheckGgufFile(string path, string what = "Model file")
    {
        if (!File.Exists(path))
            throw new ModelLoadException($"{what} '{path}' does not exist.");
        Span<byte> magic = stackalloc byte[4];
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4 || !magic.SequenceEqual("GGUF"u8))
                throw new ModelLoadException($"{what} '{path}' is not a GGUF file (it does not start with the GGUF magic bytes).");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{what} '{path}' cannot be read: {ex.Message}", ex);
        }
    }

    // Held in a static so the native side never calls a collected delegate.
    private static NativeLogConfig.LLamaLogCallback? _nativeLog;

    private static readonly Lock NativeLogLock = new();

    /// <summary>Once per process: llama.cpp has one log callback, and setting it races with the first native load.</summary>
    private static void RouteNativeLogs(ILogger logger)
    {
        lock (NativeLogLock)
        {
            if (_nativeLog is null) SetNativeLog(logger);
        }
    }

    private static void SetNativeLog(ILogger logger)
    {
        // llama.cpp logs every tensor it loads: keep that at Debug, and its warnings and errors visible.
        _nativeLog = (level, message) =>
        {
            var text = message.TrimEnd();
            if (text.Length == 0) return;
            var mapped = level switch
            {
                LLamaLogLevel.Error => LogLevel.Error,
                LLamaLogLevel.Warning => LogLevel.Warning,
                _ => LogLevel.Debug,
            };
            logger.Log(mapped, "llama.cpp: {Message}", text);
        };
        NativeLogConfig.llama_log_set(_nativeLog);
    }

    public void Dispose()
    {
        _draft?.Dispose();
        _embeddings.Dispose();
        _executor.Dispose();
        _weights.Dispose();
    }
}
