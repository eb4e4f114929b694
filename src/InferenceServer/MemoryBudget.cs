namespace InferenceServer;

/// <summary>
/// --models-memory-budget's decision when a model is about to load: which idle models to unload so that its estimated
/// bytes fit. Pure; <see cref="ModelRegistry"/> applies it under its lock.
/// </summary>
internal static class MemoryBudget
{
    /// <summary>
    /// The idle models to unload, least recently used first and no more than needed, so that <paramref name="bytes"/> fit
    /// beside the <paramref name="used"/> bytes (which count the idle models' own); null when they cannot fit even with
    /// every idle model unloaded, and then none should be.
    /// </summary>
    public static List<T>? Evictions<T>(long bytes, long budget, long used, IEnumerable<(T Model, long Bytes, long LastUsed)> idle)
    {
        var evictions = new List<T>();
        foreach (var (model, modelBytes, _) in idle.OrderBy(m => m.LastUsed))
        {
            if (used + bytes <= budget) break;
            used -= modelBytes;
            evictions.Add(model);
        }
        return used + bytes <= budget ? evictions : null;
    }
}
