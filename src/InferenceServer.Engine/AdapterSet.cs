using System.Globalization;

namespace InferenceServer.Engine;

/// <summary>
/// A weight adapter (LoRA) loaded for the model, as the engine sees it: opaque, counted. The engine holds a
/// reference for every request that uses the adapter, from <see cref="InferenceEngine.Submit"/> until the
/// request ends, so the owner frees the adapter's native memory only when nothing can still apply it.
/// Thread-safety: any thread.
/// </summary>
public interface IAdapter
{
    string Name { get; }

    /// <summary>Unique to this load: an adapter unloaded and loaded again under its name gets a new id, so
    /// KV computed under the old one is never reused under the new one.</summary>
    string LoadId { get; }

    /// <summary>Takes a reference; false once the adapter is being unloaded.</summary>
    bool TryAcquire();

    void Release();
}

/// <summary>One adapter of a set and the factor its output is scaled by.</summary>
public readonly record struct ScaledAdapter(IAdapter Adapter, float Scale);

/// <summary>
/// The adapters a request decodes under, each with its scale. llama.cpp applies adapters to a whole context,
/// so the scheduler decodes sequences of one set per step, and the prefix cache keeps each set's KV apart.
/// Canonical: ordered by name, zero scales dropped (an adapter at scale 0 adds exactly nothing), so sets
/// with the same effect have the same <see cref="Key"/>, batch together and share cached prefixes.
/// Equality is by <see cref="Key"/>. <see cref="Base"/> is the empty set: the model alone.
/// </summary>
public sealed class AdapterSet : IEquatable<AdapterSet>
{
    public static readonly AdapterSet Base = new([]);

    private AdapterSet(IReadOnlyList<ScaledAdapter> adapters)
    {
        Adapters = adapters;
        Key = string.Join(";", adapters.Select(a => $"{a.Adapter.LoadId}*{a.Scale.ToString("R", CultureInfo.InvariantCulture)}"));
    }

    /// <summary>The canonical set of the given adapters; each adapter at most once.</summary>
    public static AdapterSet Of(IEnumerable<ScaledAdapter> adapters)
    {
        var list = adapters.Where(a => a.Scale != 0f).OrderBy(a => a.Adapter.Name, StringComparer.Ordinal).ToList();
        if (list.Select(a => a.Adapter.LoadId).Distinct().Count() != list.Count)
            throw new ArgumentException("An adapter can appear only once in a set.", nameof(adapters));
        return list.Count == 0 ? Base : new AdapterSet(list);
    }

    public IReadOnlyList<ScaledAdapter> Adapters { get; }

    /// <summary>Stable text identity: load ids and scales; empty for <see cref="Base"/>.</summary>
    public string Key { get; }

    public bool IsBase => Adapters.Count == 0;

    /// <summary>Takes a reference on every adapter, or on none when one is being unloaded (then returns its name).</summary>
    internal string? TryAcquireAll()
    {
        for (var i = 0; i < Adapters.Count; i++)
        {
            if (Adapters[i].Adapter.TryAcquire()) continue;
            for (var j = 0; j < i; j++) Adapters[j].Adapter.Release();
            return Adapters[i].Adapter.Name;
        }
        return null;
    }

    internal void ReleaseAll()
    {
        foreach (var adapter in Adapters) adapter.Adapter.Release();
    }

    public bool Equals(AdapterSet? other) => other is not null && Key == other.Key;
    public override bool Equals(object? obj) => Equals(obj as AdapterSet);
    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => IsBase ? "(base)" : string.Join(",", Adapters.Select(a => $"{a.Adapter.Name}*{a.Scale.ToString(CultureInfo.InvariantCulture)}"));
}

/// <summary>The engine refused a request because one of its adapters was unloaded after the request chose it.</summary>
public sealed class AdapterUnloadedException(string name) : Exception($"The adapter '{name}' has been unloaded.")
{
    public string AdapterName { get; } = name;
}
