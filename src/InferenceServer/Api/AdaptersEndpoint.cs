using InferenceServer.Contracts;

namespace InferenceServer.Api;

/// <summary>A LoRA adapter as the admin endpoints show it; <see cref="Parent"/> is the base model's id.</summary>
internal sealed record AdapterObject(string Id, string Parent, float Scale, long Created)
{
    [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
    public string Object => "adapter";
}

internal sealed record AdapterList(IReadOnlyList<AdapterObject> Data)
{
    [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
    public string Object => "list";
}

internal sealed record AdapterDeleted(string Id, bool Deleted)
{
    [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
    public string Object => "adapter";
}

/// <summary>
/// Admin endpoints for LoRA adapters at run time (under /v1, so behind the API key): GET /v1/adapters,
/// POST /v1/adapters {"model", "name", "path", "scale"?} to load one from a file on the server, and
/// DELETE /v1/adapters/{name}. A loaded adapter is usable at once; a deleted one is refused to new
/// requests at once, while requests already running with it finish.
/// </summary>
internal static class AdaptersEndpoint
{
    public static IResult List(ModelRegistry models) =>
        TypedResults.Json(new AdapterList(Loaded(models).SelectMany(model => model.Adapters.All.Select(a => Describe(model, a))).ToList()), ApiJson.Options);

    /// <summary>The adapters of the loaded models as /v1/models entries: "MODEL:NAME", with the model as parent.</summary>
    public static IEnumerable<ModelObject> AsModels(ModelRegistry models) =>
        Loaded(models).SelectMany(model => model.Adapters.All.Select(a => new ModelObject($"{model.Id}:{a.Name}", a.CreatedUnixSeconds, "inferenceserver", Parent: model.Id)));

    public static async Task<IResult> LoadAsync(HttpContext http, ModelRegistry models, RequestResolver resolver, Operations.ApiKeys keys)
    {
        if (keys.RequireAdmin(Operations.RequestIdentity.Of(http)) is { } forbidden) return forbidden.ToResult();
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = (await resolver.ResolveBaseAsync(http, reader)).Model;
        var name = reader.RequiredString("name");
        var path = reader.RequiredString("path");
        var scale = (float)(reader.OptionalNumber("scale", -AdapterRules.MaxScale, AdapterRules.MaxScale) ?? 1.0);
        if (AdapterRules.CheckName(name) is { } badName) throw RequestReader.Invalid("name", badName);
        if (model.Adapters.Find(name) is not null) throw new ApiException(Conflict(name));

        ILoadedAdapter adapter;
        try
        {
            adapter = await Task.Run(() => model.Adapters.Load(name, path, scale), http.RequestAborted);
        }
        catch (AdapterFileException ex)
        {
            throw RequestReader.Invalid("path", ex.Message, "invalid_adapter_file");
        }
        catch (ArgumentException)
        {
            // Another request loaded this name in the meantime.
            throw new ApiException(Conflict(name));
        }
        models.RememberAdapter(model.Id, name, path, scale);
        return TypedResults.Json(Describe(model, adapter), ApiJson.Options, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>{name} is NAME, or MODEL:NAME where several loaded models have an adapter of that name.</summary>
    public static IResult Delete(HttpContext http, string name, ModelRegistry models, Operations.ApiKeys keys)
    {
        if (keys.RequireAdmin(Operations.RequestIdentity.Of(http)) is { } forbidden) return forbidden.ToResult();
        var colon = name.LastIndexOf(':');
        var owners = Loaded(models)
            .Where(model => colon > 0 ? model.Id == name[..colon] && model.Adapters.Find(name[(colon + 1)..]) is not null : model.Adapters.Find(name) is not null)
            .ToList();
        if (owners.Count > 1)
            throw RequestReader.Invalid("name", $"Several models have an adapter '{name}': name it as MODEL:{name}.");
        var adapterName = colon > 0 ? name[(colon + 1)..] : name;
        var removed = owners is [var owner] && owner.Adapters.Remove(adapterName);
        // An adapter loaded at run time into a model that is unloaded now would come back with it.
        var forgotten = models.ForgetAdapter(owners is [var loaded] ? loaded.Id : colon > 0 && models.IsConfigured(name[..colon]) ? name[..colon] : null, adapterName);
        if (!removed && !forgotten)
            return new ApiError(StatusCodes.Status404NotFound, $"No loaded model has a LoRA adapter '{name}'.", "invalid_request_error", "name", "adapter_not_found").ToResult();
        return TypedResults.Json(new AdapterDeleted(name, true), ApiJson.Options);
    }

    /// <summary>Adapters live in a loaded model; a model not loaded now has none.</summary>
    private static IEnumerable<ServedModel> Loaded(ModelRegistry models) => models.Specs.Select(spec => models.Loaded(spec.Id)).OfType<ServedModel>();

    private static ApiError Conflict(string name) =>
        new(StatusCodes.Status409Conflict, $"An adapter named '{name}' is already loaded; DELETE it first to replace it.", "invalid_request_error", "name", "adapter_exists");

    private static AdapterObject Describe(ServedModel model, ILoadedAdapter adapter) => new(adapter.Name, model.Id, adapter.DefaultScale, adapter.CreatedUnixSeconds);
}
