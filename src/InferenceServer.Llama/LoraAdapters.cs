using InferenceServer.Contracts;
using InferenceServer.Engine;
using LLama;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// A LoRA adapter loaded for one model. Requests reach it through <see cref="IAdapter"/>: each running
/// request holds a reference (taken by the engine), and so does the context while the adapter is applied
/// to it. Its native memory is freed when it has been removed from the registry and the last reference
/// goes, so llama.cpp never sees a freed adapter.
/// </summary>
public sealed class LoadedLoraAdapter : ILoadedAdapter
{
    private readonly LoraAdapters _owner;
    private int _references;
    private bool _removed;

    internal LoadedLoraAdapter(LoraAdapters owner, string name, string path, float defaultScale, long loadNumber, LoraAdapter native)
    {
        _owner = owner;
        Name = name;
        Path = path;
        DefaultScale = defaultScale;
        LoadId = $"{name}#{loadNumber}";
        Native = native;
        CreatedUnixSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public string Name { get; }
    public string LoadId { get; }
    public string Path { get; }

    /// <summary>The scale a request gets when it names the adapter without one.</summary>
    public float DefaultScale { get; }

    public long CreatedUnixSeconds { get; }

    internal LoraAdapter Native { get; }

    public bool TryAcquire()
    {
        lock (_owner.Sync)
        {
            if (_removed) return false;
            _references++;
            return true;
        }
    }

    /// <summary>A reference for the context while the adapter is applied: the requests using it already hold theirs.</summary>
    internal void AddContextReference()
    {
        lock (_owner.Sync) _references++;
    }

    public void Release()
    {
        lock (_owner.Sync)
        {
            if (--_references == 0 && _removed) Native.Unload();
        }
    }

    /// <summary>Called once, by the registry, under its lock.</summary>
    internal void MarkRemoved()
    {
        _removed = true;
        if (_references == 0) Native.Unload();
    }
}

/// <summary>
/// The LoRA adapters loaded for a model, by name. Loading checks the file before llama.cpp uses it (a GGUF,
/// and a non-null native adapter: LLamaSharp 0.30.0 hands back a null one for a bad file, and applying that
/// crashes the process). Thread-safety: all members may be called from any thread.
/// </summary>
public sealed class LoraAdapters(LLamaWeights weights) : IAdapterCatalog
{
    private readonly Dictionary<string, LoadedLoraAdapter> _byName = new(StringComparer.Ordinal);
    private long _loads;

    internal Lock Sync { get; } = new();

    /// <summary>Loads and registers an adapter.</summary>
    /// <exception cref="ArgumentException">Bad name or scale, or the name is taken.</exception>
    /// <exception cref="ModelLoadException">The file is missing, not GGUF, or not an adapter llama.cpp accepts for this model.</exception>
    public LoadedLoraAdapter Load(string name, string path, float defaultScale)
    {
        if (AdapterRules.CheckName(name) is { } badName) throw new ArgumentException(badName, nameof(name));
        if (AdapterRules.CheckScale(defaultScale) is { } badScale) throw new ArgumentException(badScale, nameof(defaultScale));
        if (Find(name) is not null) throw new ArgumentException($"An adapter named '{name}' is already loaded.", nameof(name));
        LlamaModel.CheckGgufFile(path, "LoRA adapter");
        LoraAdapter native;
        try
        {
            native = LoraAdapterLoader.Load(weights, path);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException)
        {
            throw new ModelLoadException($"LoRA adapter '{path}' cannot be used with this model: llama.cpp rejected it (an adapter of another model or architecture, or not an adapter).", ex);
        }

        lock (Sync)
        {
            if (!_byName.ContainsKey(name))
            {
                var adapter = new LoadedLoraAdapter(this, name, Path.GetFullPath(path), defaultScale, ++_loads, native);
                _byName[name] = adapter;
                return adapter;
            }
        }
        native.Unload();
        throw new ArgumentException($"An adapter named '{name}' is already loaded.", nameof(name));
    }

    /// <summary>As <see cref="Load"/>, with the file's problem as the catalogue's <see cref="AdapterFileException"/>.</summary>
    ILoadedAdapter IAdapterCatalog.Load(string name, string path, float defaultScale)
    {
        try
        {
            return Load(name, path, defaultScale);
        }
        catch (ModelLoadException ex)
        {
            throw new AdapterFileException(ex.Message, ex);
        }
    }

    public ILoadedAdapter? Find(string name)
    {
        lock (Sync) return _byName.GetValueOrDefault(name);
    }

    public IReadOnlyList<ILoadedAdapter> All
    {
        get
        {
            lock (Sync) return _byName.Values.OrderBy(a => a.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>Unregisters an adapter: new requests cannot choose it; running ones finish with it; its memory goes when they have.</summary>
    public bool Remove(string name)
    {
        lock (Sync)
        {
            if (!_byName.Remove(name, out var adapter)) return false;
            adapter.MarkRemoved();
            return true;
        }
    }
}
