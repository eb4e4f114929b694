using InferenceServer.Engine;
using InferenceServer.Llama;
using InferenceServer.ModelDownload;
using Microsoft.Extensions.Options;

namespace InferenceServer;

/// <summary>What the API needs from a loaded model.</summary>
public sealed record ServedModel(string Id, long CreatedUnixSeconds, InferenceEngine Engine, ITokenizer Tokenizer, IChatPromptRenderer ChatRenderer, IEmbeddingModel Embeddings, IGrammarChecker Grammars,
    LoraAdapters Adapters);

/// <summary>
/// Loads the model in the background once the server listens (so /health can answer 503 meanwhile),
/// then owns the engine. A load failure stops the application with a non-zero exit code.
/// </summary>
internal sealed class ModelHost(
    IOptions<ServerOptions> options,
    IConfiguration configuration,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    Operations.InferenceTelemetry telemetry,
    IEnumerable<IEngineObserver> observers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<ModelHost>();
    private volatile ServedModel? _model;
    private LlamaModel? _llama;

    /// <summary>The loaded model, or null while it loads.</summary>
    public ServedModel? Model => _model;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var settings = options.Value;
        try
        {
            var modelPath = await ModelSource.ResolveAsync(settings, configuration, _logger, stoppingToken);
            var threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;
            _llama = await Task.Run(() => LlamaModel.Load(new LlamaModelSettings(modelPath, settings.ContextSize, settings.Parallel,
                settings.BatchSize, settings.MicroBatchSize, threads, KvPerSequence: settings.Deterministic, ChatTemplate: settings.ChatTemplate) { GpuLayers = settings.GpuLayers },
                loggers.CreateLogger("InferenceServer.Llama")), stoppingToken);
            _logger.LogInformation("llama.cpp library {Library}; {SystemInfo}", NativeLibraries.LoadedLlamaPath() ?? "(path unknown)", NativeLibraries.SystemInfo());
            LoadAdapters(settings, _llama.Adapters);

            var engine = new InferenceEngine(_llama.Executor, _llama.Tokenizer,
                new EngineOptions
                {
                    MaxQueuedRequests = settings.MaxQueue,
                    PrefixCaching = !settings.NoPrefixCache && !settings.Deterministic,
                    // A chunk of 64 or more of one sequence's tokens takes ggml's tiled attention kernel, whose
                    // rounding depends on where the chunk starts (docs/determinism.md).
                    MaxPrefillChunk = settings.Deterministic ? 63 : int.MaxValue,
                    MaxQueueWait = settings.MaxQueueWaitSeconds > 0 ? TimeSpan.FromSeconds(settings.MaxQueueWaitSeconds) : null,
                },
                loggers.CreateLogger<InferenceEngine>(), new Operations.EngineObservers([telemetry, .. observers]));
            telemetry.Engine = engine;
            _model = new ServedModel(settings.ResolvedModelId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), engine, _llama.Tokenizer, _llama.ChatRenderer, _llama.Embeddings, _llama.Grammars, _llama.Adapters);
            _logger.LogInformation("Model {ModelId} is ready", _model.Id);
        }
        catch (Exception ex) when (ex is ModelLoadException or ModelDownloadException)
        {
            _logger.LogCritical("{Message}", ex.Message);
            Environment.ExitCode = 2;
            lifetime.StopApplication();
        }
    }

    /// <summary>The --lora adapters; one that cannot be used stops the server like a bad model file.</summary>
    private void LoadAdapters(ServerOptions settings, LoraAdapters adapters)
    {
        foreach (var spec in settings.Lora)
        {
            var (name, path, scale) = LoraSpec.Parse(spec);
            try
            {
                adapters.Load(name, path, scale);
            }
            catch (ArgumentException ex)
            {
                throw new ModelLoadException($"--lora {spec}: {ex.Message}", ex);
            }
            _logger.LogInformation("LoRA adapter {Name} loaded from {Path} (default scale {Scale})", name, path, scale);
        }
    }

    // Registered as a singleton and, through a factory, as a hosted service: the container disposes it twice.
    private int _disposed;

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _model?.Engine.Dispose();
        _llama?.Dispose();
        base.Dispose();
    }
}
