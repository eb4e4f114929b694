namespace InferenceServer.Api;

/// <summary>GET /status: what the playground's status view shows — each model, its sequences, KV cells and prefix-cache hits.</summary>
internal static class StatusEndpoint
{
    public static IResult Get(ModelRegistry models) => TypedResults.Json(new
    {
        demo_model = models.ServesDemoModel,
        models = models.Specs.Select(spec => Describe(spec.Id, models.Loaded(spec.Id)?.Engine.Snapshot)),
    }, ApiJson.Options);

    private static object Describe(string id, Engine.EngineSnapshot? snapshot) => snapshot is null
        ? new { id, loaded = false }
        : new
        {
            id,
            loaded = true,
            running = snapshot.Running,
            waiting = snapshot.Waiting,
            kv_cells = new { total = snapshot.ContextCells, reserved = snapshot.ReservedCells, cached = snapshot.PrefixCache.CachedCells },
            prefix_cache = new
            {
                queried_tokens = snapshot.PrefixCache.QueriedTokens,
                hit_tokens = snapshot.PrefixCache.HitTokens,
                hit_rate = snapshot.PrefixCache.QueriedTokens == 0 ? 0 : (double)snapshot.PrefixCache.HitTokens / snapshot.PrefixCache.QueriedTokens,
            },
        };
}
