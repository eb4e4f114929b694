using InferenceServer.Engine;
using InferenceServer.Llama;
using InferenceServer.ModelDownload;
using InferenceServer.Operations;
using Microsoft.Extensions.Options;

namespace InferenceServer;

/// <summary>No configured model has this id.</summary>
internal sealed class UnknownModelException(string id) : Exception($"The model '{id}' does not exist.")
{
    public string Id { get; } = id;
}

/// <summary>The model is configured but cannot serve now (still loading, failed to load, or the server is stopping); retry later.</summary>
internal sealed class ModelUnavailableException(string message, string code, int retryAfterSeconds) : Exception(message)
{
    public string Code { get; } = code;
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>A request's hold on a loaded model: while any lease is held the model is never unloaded. Dispose once the request ends.</summary>
internal sealed class ModelLease(ServedModel model, Action release) : IDisposable
{
    private int _released;

    public ServedModel Model => model;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) release();
    }
}

/// <summary>
/// Owns the served models. Models not marked on-demand load in the background once the server listens (so
/// /health answers 503 meanwhile; a failure stops the server with exit code 2, except that a default model that
/// cannot be downloaded gives way to the built-in demo model unless --no-demo-model); the others load on their
/// first request. A request for a model that is loading waits for it, for at most --model-load-wait.
/// A model with a keep_alive is unloaded that long after its last lease ended; with --models-memory-budget,
/// loading a model first unloads least recently used idle models until the estimates fit.
/// Invariants (under <see cref="_lock"/>): a model with leases or waiting requests is never unloaded; <see cref="ModelSlot.Loading"/>
/// is set exactly while a load runs; the bytes counted against the budget are the slots' reservations (loading
/// or loaded) plus <see cref="_releasingBytes"/> of models detached but not yet disposed.
/// Thread-safety: every public member may be called from any thread.
/// </summary>
internal sealed class ModelRegistry : BackgroundService
{
    private readonly ServerOptions _options;
    private readonly IConfiguration _configuration;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly InferenceTelemetry _telemetry;
    private readonly ModelLoader _loader;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    // Replaced whole (never changed in place) once, when the demo model stands in for an unreachable default model.
    private volatile IReadOnlyDictionary<string, ModelSlot> _slots;
    private volatile IReadOnlyList<ModelSpec> _specs;
    private readonly long? _budgetBytes;
    private readonly TimeSpan _loadWait;
    private readonly Lock _lock = new();
    // Never disposed: a load that starts as the server stops may still read its token.
    private readonly CancellationTokenSource _stopping = new();
    private long _releasingBytes;
    private bool _disposed;
    private volatile bool _started;

    public ModelRegistry(IOptions<ServerOptions> options, IConfiguration configuration, IHostApplicationLifetime lifetime, ILoggerFactory loggers,
        InferenceTelemetry telemetry, IEnumerable<IEngineObserver> observers, TimeProvider clock)
    {
        _clock = clock;
        _options = options.Value;
        _configuration = configuration;
        _lifetime = lifetime;
        _telemetry = telemetry;
        _loader = new ModelLoader(_options, configuration, loggers, telemetry, observers.ToArray(), clock, CreatedUnixSeconds);
        _logger = loggers.CreateLogger<ModelRegistry>();
        _specs = ModelSpec.From(_options);
        _slots = _specs.ToDictionary(spec => spec.Id, spec => new ModelSlot(spec));
        _budgetBytes = string.IsNullOrWhiteSpace(_options.ModelsMemoryBudget) ? null : ModelSpec.ParseBytes(_options.ModelsMemoryBudget);
        _loadWait = TimeSpan.FromSeconds(_options.ModelLoadWaitSeconds);
    }

    /// <summary>The configured models, in the order given; the first is the default where a request names none.</summary>
    public IReadOnlyList<ModelSpec> Specs => _specs;

    /// <summary>True when the built-in demo model is served because the default model could not be had.</summary>
    public bool ServesDemoModel { get; private set; }

    /// <summary>When the server started: the "created" time of every model in /v1/models.</summary>
    public long CreatedUnixSeconds { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>True once every model that loads at start has loaded (/health, /ready).</summary>
    public bool IsStarted => _started;

    public bool IsConfigured(string id) => _slots.ContainsKey(id);

    /// <summary>The model if it is loaded now, without taking a lease (for tests and diagnostics).</summary>
    public ServedModel? Loaded(string id)
    {
        lock (_lock) return _slots.TryGetValue(id, out var slot) ? slot.Loaded?.Served : null;
    }

    /// <summary>
    /// A lease on the model with this id, loading it first if needed and waiting at most --model-load-wait for it.
    /// Throws <see cref="UnknownModelException"/> or <see cref="ModelUnavailableException"/>.
    /// </summary>
    public async Task<ModelLease> AcquireAsync(string id, CancellationToken cancellationToken)
    {
        if (!_slots.TryGetValue(id, out var slot)) throw new UnknownModelException(id);
        var started = _clock.GetTimestamp();
        while (true)
        {
            Task loading;
            lock (_lock)
            {
                if (_disposed) throw new ModelUnavailableException("The server is shutting down. Retry shortly.", "server_shutting_down", 1);
                if (slot.Loaded is { } loaded)
                {
                    slot.Leases++;
                    return new ModelLease(loaded.Served, () => Release(slot));
                }
                loading = slot.Loading ?? StartLoading(slot);
                slot.Waiters++;
            }
            var left = _loadWait - _clock.GetElapsedTime(started);
            try
            {
                await loading.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _clock, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new ModelUnavailableException($"The model '{id}' is still loading. Retry shortly.", "model_loading", 5);
            }
            catch (Exception ex) when (ex is ModelLoadException or ModelDownloadException)
            {
                throw new ModelUnavailableException($"The model '{id}' could not be loaded: {ex.Message}", "model_unavailable", 5);
            }
            finally
            {
                lock (_lock) slot.Waiters--;
            }
            // Loaded now, unless it was unloaded again in between: then take another turn.
        }
    }

    private void Release(ModelSlot slot)
    {
        lock (_lock)
        {
            slot.Leases--;
            slot.LastUsed = _clock.GetTimestamp();
        }
    }

    /// <summary>Starts loading a slot's model; called under the lock when no load runs.</summary>
    private Task StartLoading(ModelSlot slot)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        slot.Loading = done.Task;
        // The load belongs to no request: its logs and spans must not carry the first waiting request's id.
        using (ExecutionContext.SuppressFlow()) _ = Task.Run(() => LoadAsync(slot, done));
        return done.Task;
    }

    private async Task LoadAsync(ModelSlot slot, TaskCompletionSource done)
    {
        var spec = slot.Spec;
        LoadedModel? loaded = null;
        try
        {
            var settings = await _loader.SettingsAsync(spec, _stopping.Token);
            if (_budgetBytes is { } budget) MakeRoom(slot, ModelMemory.EstimateBytes(settings), budget);
            loaded = await _loader.LoadAsync(spec, settings, isDefaultModel: spec.Id == Specs[0].Id, () => RememberedAdapters(slot), name => ForgetAdapter(spec.Id, name), _stopping.Token);
            lock (_lock)
            {
                if (!_disposed)
                {
                    slot.Loaded = loaded;
                    slot.LastUsed = _clock.GetTimestamp();
                    _telemetry.AddEngine(spec.Id, loaded.Served.Engine, loaded.Llama.KvBytesPerCell);
                    loaded = null;
                }
            }
            // Null unless the server stopped while the model loaded.
            if (loaded is null) _logger.LogInformation("Model {ModelId} is ready", spec.Id);
            else loaded.Dispose();
            Finish(slot, done, null);
        }
        catch (Exception ex)
        {
            lock (_lock) slot.Reserved = 0;
            Finish(slot, done, ex);
        }
    }

    /// <summary>Remembers an adapter loaded at run time (POST /v1/adapters), so that the model comes back with it after an unload.</summary>
    public void RememberAdapter(string modelId, string name, string path, float scale)
    {
        lock (_lock) _slots[modelId].RuntimeAdapters[name] = (path, scale);
    }

    private List<KeyValuePair<string, (string Path, float Scale)>> RememberedAdapters(ModelSlot slot)
    {
        lock (_lock) return slot.RuntimeAdapters.ToList();
    }

    /// <summary>Forgets an adapter unloaded at run time (DELETE /v1/adapters), of one model or, with no id, of every model; true if one was remembered.</summary>
    public bool ForgetAdapter(string? modelId, string name)
    {
        lock (_lock)
        {
            var forgotten = false;
            foreach (var slot in modelId is null ? _slots.Values.ToList() : [_slots[modelId]]) forgotten |= slot.RuntimeAdapters.Remove(name);
            return forgotten;
        }
    }

    private void Finish(ModelSlot slot, TaskCompletionSource done, Exception? error)
    {
        lock (_lock) slot.Loading = null;
        if (error is null) done.SetResult();
        else done.SetException(error);
    }

    /// <summary>
    /// Reserves a model's estimated bytes, unloading least recently used idle models until they fit the budget.
    /// Throws <see cref="ModelLoadException"/> when they cannot fit even then.
    /// </summary>
    private void MakeRoom(ModelSlot slot, long bytes, long budget)
    {
        List<Detached> evicted;
        lock (_lock)
        {
            if (bytes > budget)
                throw new ModelLoadException($"It needs about {Megabytes(bytes)} MB, more than the whole --models-memory-budget of {Megabytes(budget)} MB.");
            var used = _releasingBytes + _slots.Values.Sum(s => s.Reserved);
            var idle = _slots.Values.Where(IsIdle).Select(s => (s, s.Reserved, s.LastUsed));
            if (MemoryBudget.Evictions(bytes, budget, used, idle) is not { } victims)
            {
                var busy = string.Join(", ", _slots.Values.Where(s => s != slot && s.Reserved > 0 && !IsIdle(s)).Select(s => s.Spec.Id));
                throw new ModelLoadException($"It needs about {Megabytes(bytes)} MB and the --models-memory-budget of {Megabytes(budget)} MB is held by models in use ({busy}). Retry when they are idle.");
            }
            evicted = victims.Select(Detach).ToList();
            slot.Reserved = bytes;
        }
        foreach (var model in evicted) Unload(model, $"to make room for {slot.Spec.Id}");
    }

    /// <summary>Loaded and neither leased nor awaited: the budget may unload it.</summary>
    private static bool IsIdle(ModelSlot slot) => slot is { Loaded: not null, Leases: 0, Waiters: 0 };

    private static long Megabytes(long bytes) => (bytes + (1 << 20) - 1) >> 20;

    /// <summary>Takes a loaded model out of service (under the lock): no new lease can reach it, its bytes count until it is disposed.</summary>
    private Detached Detach(ModelSlot slot)
    {
        var detached = new Detached(slot.Loaded!, slot.Reserved);
        slot.Loaded = null;
        _releasingBytes += slot.Reserved;
        slot.Reserved = 0;
        _telemetry.RemoveEngine(slot.Spec.Id);
        return detached;
    }

    private void Unload(Detached detached, string reason)
    {
        detached.Model.Dispose();
        lock (_lock) _releasingBytes -= detached.Reserved;
        _logger.LogInformation("Model {ModelId} unloaded {Reason}", detached.Model.Served.Id, reason);
    }

    /// <summary>Unloads every loaded model whose keep_alive has passed since its last lease ended: the sweep that runs every second (tests call it after moving the clock).</summary>
    internal void UnloadIdle()
    {
        List<Detached> idle = [];
        lock (_lock)
        {
            foreach (var slot in _slots.Values)
                if (IsIdle(slot) && slot.Spec.KeepAlive is { } keepAlive && _clock.GetElapsedTime(slot.LastUsed) >= keepAlive)
                    idle.Add(Detach(slot));
        }
        foreach (var model in idle) Unload(model, "after its keep_alive");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        if (_options.UsesDefaultModel)
            _logger.LogInformation("No model given: serving the default model {Model} (pass -m FILE.gguf or -m hf://OWNER/REPO/FILE.gguf for another)", Specs[0].Hub);
        foreach (var slot in _slots.Values.Where(s => !s.Spec.OnDemand))
        {
            try
            {
                try
                {
                    await LoadAtStartAsync(slot, stoppingToken);
                }
                catch (ModelDownloadException ex) when (_options.UsesDefaultModel && !_options.NoDemoModel)
                {
                    await LoadAtStartAsync(ServeDemoModel(ex), stoppingToken);
                }
            }
            catch (Exception ex) when (ex is ModelLoadException or ModelDownloadException)
            {
                _logger.LogCritical("{Message}", ex.Message);
                Environment.ExitCode = 2;
                _lifetime.StopApplication();
                return;
            }
        }
        _started = true;

        if (Specs.All(spec => spec.KeepAlive is null)) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _clock);
        while (await timer.WaitForNextTickAsync(stoppingToken)) UnloadIdle();
    }

    private Task LoadAtStartAsync(ModelSlot slot, CancellationToken stoppingToken)
    {
        Task loading;
        lock (_lock) loading = slot.Loading ?? (slot.Loaded is null ? StartLoading(slot) : Task.CompletedTask);
        return loading.WaitAsync(stoppingToken);
    }

    /// <summary>Puts the built-in demo model in the default model's place (the only configured model) and returns its slot.</summary>
    private ModelSlot ServeDemoModel(ModelDownloadException failure)
    {
        var spec = DemoModel.Spec(_options, HubSettings.From(_configuration, _options.ModelCache).CacheDirectory);
        _logger.LogWarning("{Failure} Serving the built-in demo model {ModelId} instead: 656K parameters, it only writes short children's stories. " +
            "Pass -m FILE.gguf (or -m hf://OWNER/REPO/FILE.gguf) to serve a real model, or --no-demo-model to exit instead.", failure.Message, spec.Id);
        var slot = new ModelSlot(spec);
        lock (_lock)
        {
            _slots = new Dictionary<string, ModelSlot> { [spec.Id] = slot };
            _specs = [spec];
            ServesDemoModel = true;
        }
        return slot;
    }

    // Registered as a singleton and, through a factory, as a hosted service: the container disposes it twice.
    public override void Dispose()
    {
        List<Detached> loaded;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            loaded = _slots.Values.Where(s => s.Loaded is not null).Select(Detach).ToList();
        }
        _stopping.Cancel();
        foreach (var detached in loaded) detached.Model.Dispose();
        base.Dispose();
    }

    /// <summary>One configured model's state; every field is guarded by the registry's lock.</summary>
    private sealed class ModelSlot(ModelSpec spec)
    {
        public ModelSpec Spec { get; } = spec;
        public LoadedModel? Loaded { get; set; }
        public Task? Loading { get; set; }
        public int Leases { get; set; }

        /// <summary>Requests waiting for this model's load: like leases, they keep a just-loaded model from eviction.</summary>
        public int Waiters { get; set; }
        public long LastUsed { get; set; }

        /// <summary>Estimated bytes counted against the budget while the model loads or is loaded (0 without a budget).</summary>
        public long Reserved { get; set; }

        /// <summary>Adapters loaded at run time, by name: loaded again with the model after an unload.</summary>
        public Dictionary<string, (string Path, float Scale)> RuntimeAdapters { get; } = [];
    }

    /// <summary>A model taken out of service, with the bytes it still holds of the budget until it is disposed.</summary>
    private sealed record Detached(LoadedModel Model, long Reserved);
}
