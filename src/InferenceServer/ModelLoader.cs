using InferenceServer.Engine;
using InferenceServer.Llama;
using InferenceServer.ModelDownload;
using InferenceServer.Operations;

namespace InferenceServer;

/// <summary>A model in memory and the engine serving it; disposing it frees both.</summary>
internal sealed record LoadedModel(ServedModel Served, LlamaModel Llama) : IDisposable
{
    public void Dispose()
    {
        Served.Engine.Dispose();
        Llama.Dispose();
    }
}

/// <summary>
/// Turns a configured model into a loaded one: maps the server options to llama.cpp's settings and the engine's
/// options, loads the weights with their adapters (and, for the default model, --lora and --draft-model) and builds
/// the engine. It decides nothing about when models load or unload: <see cref="ModelRegistry"/> does, and reserves the
/// memory budget between <see cref="SettingsAsync"/> and <see cref="LoadAsync"/>.
/// Thread-safety: loads of different models may run at once.
/// </summary>
internal sealed class ModelLoader(ServerOptions options, IConfiguration configuration, ILoggerFactory loggers, InferenceTelemetry telemetry,
    IReadOnlyList<IEngineObserver> observers, TimeProvider clock, long createdUnixSeconds)
{
    // The registry's category, as before the loader was split from it: operators' log filters keep working.
    private readonly ILogger _logger = loggers.CreateLogger<ModelRegistry>();
    private int _libraryLogged;

    /// <summary>llama.cpp's settings for a model whose file is at <paramref name="path"/>.</summary>
    public static LlamaModelSettings Settings(ServerOptions options, ModelSpec spec, string path) =>
        new(path, spec.ContextSize, spec.Parallel, options.BatchSize, options.MicroBatchSize, options.Threads > 0 ? options.Threads : Environment.ProcessorCount,
            KvUnified: options.KvUnified, ChatTemplate: spec.ChatTemplate)
        {
            GpuLayers = options.GpuLayers,
            // "auto" leaves the key type to LlamaModelSettings.KeysFor, which knows the model's shape; the names were checked at startup.
            KeyType = options.CacheTypeK == ServerOptions.ExactKeys ? null : KvCacheType.Parse(options.CacheTypeK)!,
            ValueType = KvCacheType.Parse(options.CacheTypeV)!,
        };

    /// <summary>The engine's options; <paramref name="draftModel"/> is the loaded --draft-model, if any.</summary>
    public static EngineOptions EngineOptions(ServerOptions options, IDraftModel? draftModel) => new()
    {
        MaxQueuedRequests = options.MaxQueue,
        PrefixCaching = !options.NoPrefixCache,
        MaxQueueWait = options.MaxQueueWaitSeconds > 0 ? TimeSpan.FromSeconds(options.MaxQueueWaitSeconds) : null,
        Speculation = options.ToSpeculationOptions(draftModel),
        StreamInterval = options.StreamInterval,
    };

    /// <summary>The model's settings, once its file is found (downloaded first when it is an hf:// reference).</summary>
    public async Task<LlamaModelSettings> SettingsAsync(ModelSpec spec, CancellationToken cancellationToken) =>
        Settings(options, spec, await ModelSource.ResolveAsync(spec, options.ModelCache, configuration, _logger, cancellationToken));

    /// <summary>
    /// Loads the model and builds its engine. <paramref name="isDefaultModel"/>: also load --lora and --draft-model.
    /// The adapters <paramref name="runtimeAdapters"/> gives once the weights are in (an adapter deleted meanwhile is not
    /// brought back) are loaded again; one that fails now is logged and handed to <paramref name="forgetAdapter"/>.
    /// Throws <see cref="ModelLoadException"/> (or <see cref="ModelDownloadException"/> for a draft model) with nothing left loaded.
    /// </summary>
    public async Task<LoadedModel> LoadAsync(ModelSpec spec, LlamaModelSettings settings, bool isDefaultModel,
        Func<IReadOnlyList<KeyValuePair<string, (string Path, float Scale)>>> runtimeAdapters, Action<string> forgetAdapter, CancellationToken cancellationToken)
    {
        var llama = LlamaModel.Load(settings, loggers.CreateLogger("InferenceServer.Llama"));
        try
        {
            if (isDefaultModel)
            {
                LoadStartupAdapters(llama);
                await LoadDraftModelAsync(spec, llama, cancellationToken);
            }
            ReloadRuntimeAdapters(spec.Id, llama, runtimeAdapters(), forgetAdapter);
            if (Interlocked.Exchange(ref _libraryLogged, 1) == 0)
                _logger.LogInformation("llama.cpp library {Library}; {SystemInfo}", NativeLibraries.LoadedLlamaPath() ?? "(path unknown)", NativeLibraries.SystemInfo());
            var engine = new InferenceEngine(llama.Executor, llama.Tokenizer, EngineOptions(options, llama.DraftModel),
                loggers.CreateLogger<InferenceEngine>(), new EngineObservers([telemetry.ObserverFor(spec.Id), .. observers]), deadlineClock: clock);
            return new LoadedModel(new ServedModel(spec.Id, createdUnixSeconds, engine, llama.Tokenizer, llama.ChatRenderer, llama.Embeddings, llama.Grammars, llama.Adapters), llama);
        }
        catch
        {
            llama.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The --lora adapters, loaded into the first configured model (with every load of it: an unloaded model comes
    /// back with them, as with adapters loaded at run time through /v1/adapters). One that cannot be used fails the
    /// load like a bad model file.
    /// </summary>
    private void LoadStartupAdapters(LlamaModel llama)
    {
        try
        {
            foreach (var entry in options.Lora)
            {
                var (name, path, scale) = LoraSpec.Parse(entry);
                llama.Adapters.Load(name, path, scale);
                _logger.LogInformation("LoRA adapter {Name} loaded from {Path} (default scale {Scale})", name, path, scale);
            }
        }
        catch (ArgumentException ex)
        {
            throw new ModelLoadException($"--lora: {ex.Message}", ex);
        }
    }

    /// <summary>Loads --draft-model for the first model (downloading an hf:// one first).</summary>
    private async Task LoadDraftModelAsync(ModelSpec spec, LlamaModel llama, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.DraftModel)) return;
        var hub = HubFile.IsHubReference(options.DraftModel) ? HubFile.Parse(options.DraftModel) : null;
        var path = await ModelSource.ResolveAsync(spec with { LocalPath = hub is null ? options.DraftModel : null, Hub = hub },
            options.ModelCache, configuration, _logger, cancellationToken);
        llama.LoadDraftModel(path, options.DraftMinP, loggers.CreateLogger("InferenceServer.Llama"));
    }

    /// <summary>Loads again the adapters loaded at run time before the model was unloaded. One that fails now (its file changed) is logged and forgotten.</summary>
    private void ReloadRuntimeAdapters(string modelId, LlamaModel llama, IReadOnlyList<KeyValuePair<string, (string Path, float Scale)>> adapters, Action<string> forget)
    {
        foreach (var (name, (path, scale)) in adapters)
        {
            try
            {
                llama.Adapters.Load(name, path, scale);
            }
            catch (Exception ex) when (ex is ModelLoadException or ArgumentException)
            {
                _logger.LogWarning("LoRA adapter {Name} ({Path}) loaded at run time could not be loaded again with model {ModelId}: {Reason}", name, path, modelId, ex.Message);
                forget(name);
            }
        }
    }
}
