using System.Text.RegularExpressions;
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
public sealed class LoadedLoraAdapter : IAdapter
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
public sealed partial class LoraAdapters(LLamaWeights weights)
{
    private readonly Dictionary<string, LoadedLoraAdapter> _byName = new(StringComparer.Ordinal);
    private long _loads;

    internal Lock Sync { get; } = new();

    /// <summary>What a request may ask for: scales outside this range are refused.</summary>
    public const float MaxScale = 4f;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();

    /// <summary>Null when the name can be an adapter's, else why not. ':' is excluded: "model:adapter" names one.</summary>
    public static string? CheckName(string name) => NamePattern().IsMatch(name) ? null
        : $"'{name}' is not a valid adapter name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.";

    public static string? CheckScale(float scale) => float.IsFinite(scale) && Math.Abs(scale) <= MaxScale ? null
        : $"{scale} is not a valid adapter scale: expected a number from {-MaxScale} to {MaxScale}.";

    /// <summary>Loads and registers an adapter.</summary>
    /// <exception cref="ArgumentException">Bad name or scale, or the name is taken.</exception>
    /// <exception cref="ModelLoadException">The file is missing, not GGUF, or not an adapter llama.cpp accepts for this model.</exception>
    public LoadedLoraAdapter Load(string name, string path, float defaultScale)
    {
        if (CheckName(name) is { } badName) throw new ArgumentException(badName, nameof(name));
        if (CheckScale(defaultScale) is { } badScale) throw new ArgumentException(badScale, nameof(defaultScale));
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

    public LoadedLoraAdapter? Find(string name)
    {
        lock (Sync) return _byName.GetValueOrDefault(name);
    }

    /// <summary>Loaded adapters, by name.</summary>
    public IReadOnlyList<LoadedLoraAdapter> All
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
