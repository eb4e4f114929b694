using InferenceServer.Api;
using InferenceServer.Engine;
using InferenceServer.Llama;
using InferenceServer.Operations;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Embedded;

/// <summary>
/// The inference engine in this process: one batching engine per loaded model, reached through
/// <see cref="GetChatClient"/> (an <see cref="IChatClient"/>) and <see cref="GetEmbeddingGenerator"/>. Concurrent
/// callers share each engine's batch and prefix cache exactly as the HTTP server's clients do.
/// Thread-safety: every member may be called from any thread; dispose once, after the last call has ended.
/// </summary>
public sealed class LocalInference : IAsyncDisposable, IDisposable
{
    private readonly IReadOnlyDictionary<string, LoadedModel> _models;
    private readonly ILoggerFactory _loggers;

    private LocalInference(IReadOnlyDictionary<string, LoadedModel> models, string defaultModelId, ILoggerFactory loggers)
    {
        _models = models;
        DefaultModelId = defaultModelId;
        _loggers = loggers;
    }

    /// <summary>The loaded models' ids, the default first.</summary>
    public IReadOnlyList<string> ModelIds => [DefaultModelId, .. _models.Keys.Where(id => id != DefaultModelId)];

    /// <summary>The model requests use when <c>ModelId</c> names none.</summary>
    public string DefaultModelId { get; }

    /// <summary>Loads every model (on a thread-pool thread) and starts its engine.</summary>
    /// <exception cref="ArgumentException">The options name no model, or a model or adapter file cannot be used.</exception>
    public static Task<LocalInference> StartAsync(LocalInferenceOptions options, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Start(options, loggers), cancellationToken);

    /// <summary>As <see cref="StartAsync"/>, blocking the caller while the models load.</summary>
    public static LocalInference Start(LocalInferenceOptions options, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggers ??= NullLoggerFactory.Instance;
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new ArgumentException("LocalInferenceOptions.ModelPath must name a GGUF file.", nameof(options));
        LocalModelOptions first = new() { ModelPath = options.ModelPath, ModelId = options.ModelId, ContextSize = options.ContextSize, Parallel = options.Parallel, ChatTemplate = options.ChatTemplate };
        foreach (var adapter in options.LoraAdapters) first.LoraAdapters.Add(adapter);

        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var models = new Dictionary<string, LoadedModel>();
        try
        {
            foreach (var model in (IEnumerable<LocalModelOptions>)[first, .. options.Models])
            {
                var id = string.IsNullOrWhiteSpace(model.ModelId) ? Path.GetFileNameWithoutExtension(model.ModelPath) : model.ModelId;
                if (models.ContainsKey(id)) throw new ArgumentException($"Two models have the id '{id}'.", nameof(options));
                models[id] = Load(id, created, model, options, loggers);
            }
        }
        catch
        {
            foreach (var loaded in models.Values) loaded.Dispose();
            throw;
        }
        return new LocalInference(models, models.Keys.First(), loggers);
    }

    private static LoadedModel Load(string id, long created, LocalModelOptions model, LocalInferenceOptions options, ILoggerFactory loggers)
    {
        var threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        var settings = new LlamaModelSettings(model.ModelPath, model.ContextSize, model.Parallel, options.BatchSize, options.BatchSize, threads, ChatTemplate: model.ChatTemplate);
        LlamaModel llama;
        try
        {
            llama = LlamaModel.Load(settings, loggers.CreateLogger("InferenceServer.Llama"));
        }
        catch (ModelLoadException ex)
        {
            throw new ArgumentException(ex.Message, nameof(options), ex);
        }
        try
        {
            foreach (var adapter in model.LoraAdapters) llama.Adapters.Load(adapter.Name, adapter.Path, adapter.Scale);
        }
        catch (Exception ex) when (ex is ModelLoadException or ArgumentException)
        {
            llama.Dispose();
            throw new ArgumentException($"LoRA adapter: {ex.Message}", nameof(options), ex);
        }
        var engine = new InferenceEngine(llama.Executor, llama.Tokenizer,
            new EngineOptions { MaxQueuedRequests = options.MaxQueuedRequests, PrefixCaching = options.PrefixCaching },
            loggers.CreateLogger<InferenceEngine>());
        return new LoadedModel(new ServedModel(id, created, engine, llama.Tokenizer, llama.ChatRenderer, llama.Embeddings, llama.Grammars, llama.Adapters), llama);
    }

    /// <summary>A chat client whose requests go to <paramref name="modelId"/> (default: <see cref="DefaultModelId"/>) unless their <c>ChatOptions.ModelId</c> says otherwise.</summary>
    public IChatClient GetChatClient(string? modelId = null) => new LocalChatClient(this, Known(modelId), _loggers.CreateLogger<LocalChatClient>());

    /// <summary>An embedding generator on <paramref name="modelId"/> (default: <see cref="DefaultModelId"/>) unless <c>EmbeddingGenerationOptions.ModelId</c> says otherwise.</summary>
    public IEmbeddingGenerator<string, Embedding<float>> GetEmbeddingGenerator(string? modelId = null) => new LocalEmbeddingGenerator(this, Known(modelId));

    private string Known(string? modelId) => modelId is null ? DefaultModelId
        : _models.ContainsKey(AdapterSelection.SplitModelName(modelId, _models.ContainsKey).ModelId) ? modelId
        : throw new ArgumentException($"The model '{modelId}' is not loaded.", nameof(modelId));

    /// <summary>A loaded model by its id (for diagnostics and tests).</summary>
    internal ServedModel Model(string id) => _models[id].Served;

    /// <summary>A generation request's model: <c>model</c> may be <c>BASE:ADAPTER</c>, and <c>adapters</c> adds more, as over HTTP.</summary>
    internal ResolvedRequest Resolve(RequestReader reader, List<IDisposable> disposeAtEnd)
    {
        var requested = reader.RequiredString("model");
        var (id, adapter) = AdapterSelection.SplitModelName(requested, _models.ContainsKey);
        var (model, adapters) = AdapterSelection.Select(Served(id), requested, adapter, reader);
        return Resolved(model, adapters, disposeAtEnd).WithReasoningFormat(reader);
    }

    /// <summary>A request on the base model only (embeddings).</summary>
    internal ResolvedRequest ResolveBase(RequestReader reader) => Resolved(Served(reader.RequiredString("model")), AdapterSet.Base, []);

    private ServedModel Served(string id) =>
        _models.TryGetValue(id, out var loaded) ? loaded.Served : throw new ApiException(ApiError.ModelNotFound(id));

    // In-process callers are one tenant with no size limits beyond the model's context; thinking is split from answers.
    private static ResolvedRequest Resolved(ServedModel model, AdapterSet adapters, List<IDisposable> disposeAtEnd) =>
        new(model, adapters, RequestIdentity.Anonymous, new RequestLimits(int.MaxValue, 0, 0), new OutputPolicy(true), null, disposeAtEnd.Add);

    /// <summary>Stops the engines and unloads the models; call it after the last request has ended.</summary>
    public void Dispose()
    {
        foreach (var model in _models.Values) model.Dispose();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed record LoadedModel(ServedModel Served, LlamaModel Llama) : IDisposable
    {
        public void Dispose()
        {
            Served.Engine.Dispose();
            Llama.Dispose();
        }
    }
}
