using InferenceServer.Engine;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Llama;

/// <summary>Settings for loading one GGUF model and its context. ContextCells 0 = min(trained context, 4096) × MaxSequences.</summary>
public sealed record LlamaModelSettings(
    string ModelPath,
    int ContextCells,
    int MaxSequences,
    int BatchTokens,
    int MicroBatchTokens,
    int Threads)
{
    /// <summary>Layers to offload to the GPU; 0 = all on the CPU (the only choice with the CPU backend).</summary>
    public int GpuLayers { get; init; }
}

/// <summary>The model file cannot be used; the message says which file and why.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A loaded model: weights, one context, and what the engine and API need from them.</summary>
public sealed class LlamaModel : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LlamaExecutor _executor;

    private LlamaModel(LLamaWeights weights, LlamaExecutor executor, LlamaTokenizer tokenizer, LlamaChatRenderer renderer)
    {
        _weights = weights;
        _executor = executor;
        Tokenizer = tokenizer;
        ChatRenderer = renderer;
    }

    public IModelExecutor Executor => _executor;
    public ITokenizer Tokenizer { get; }
    public IChatPromptRenderer ChatRenderer { get; }

    /// <summary>Checks the file, loads the weights and creates the context. Throws <see cref="ModelLoadException"/> for an unusable file.</summary>
    public static LlamaModel Load(LlamaModelSettings settings, ILogger logger)
    {
        CheckGgufFile(settings.ModelPath);
        RouteNativeLogs(logger);

        var parameters = new ModelParams(settings.ModelPath)
        {
            SeqMax = (uint)settings.MaxSequences,
            BatchSize = (uint)settings.BatchTokens,
            UBatchSize = (uint)settings.MicroBatchTokens,
            Threads = settings.Threads,
            BatchThreads = settings.Threads,
            GpuLayerCount = settings.GpuLayers,
        };

        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception ex)
        {
            throw new ModelLoadException($"Cannot load model '{settings.ModelPath}': llama.cpp rejected it ({ex.Message}).", ex);
        }

        try
        {
            parameters.ContextSize = (uint)(settings.ContextCells > 0 ? settings.ContextCells : Math.Min(weights.ContextSize, 4096) * settings.MaxSequences);
            var context = weights.CreateContext(parameters);
            var limits = new ModelLimits(
                ContextCells: (int)context.ContextSize,
                TrainedContextLength: weights.ContextSize,
                MaxSequences: settings.MaxSequences,
                BatchTokens: settings.BatchTokens);
            var renderer = LlamaChatRenderer.For(weights, out var fallbackReason);
            if (fallbackReason is not null)
                logger.LogWarning("Chat prompts use the ChatML fallback because {Reason}", fallbackReason);
            logger.LogInformation(
                "Loaded {Model}: {Parameters:N0} parameters, vocabulary {Vocab}, trained context {Trained}, {Cells} KV cells shared by up to {Sequences} sequences, chat template {Template}",
                Path.GetFileName(settings.ModelPath), weights.ParameterCount, weights.NativeHandle.Vocab.Count,
                weights.ContextSize, limits.ContextCells, limits.MaxSequences, renderer.Name);
            return new LlamaModel(weights, new LlamaExecutor(context, limits), new LlamaTokenizer(weights), renderer);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Throws <see cref="ModelLoadException"/> unless the path is a readable file that starts like a GGUF file.</summary>
    public static void CheckGgufFile(string path)
    {
        if (!File.Exists(path))
            throw new ModelLoadException($"Model file '{path}' does not exist.");
        Span<byte> magic = stackalloc byte[4];
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4 || !magic.SequenceEqual("GGUF"u8))
                throw new ModelLoadException($"Model file '{path}' is not a GGUF file (it does not start with the GGUF magic bytes).");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"Model file '{path}' cannot be read: {ex.Message}", ex);
        }
    }

    // Held in a static so the native side never calls a collected delegate.
    private static NativeLogConfig.LLamaLogCallback? _nativeLog;

    private static void RouteNativeLogs(ILogger logger)
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
        _executor.Dispose();
        _weights.Dispose();
    }
}
