using InferenceServer.Llama;

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
    public static IResult List(ModelHost host) =>
        TypedResults.Json(new AdapterList(host.Model is { } model ? Describe(model) : []), ApiJson.Options);

    /// <summary>The adapters of a model as /v1/models entries: "BASE:NAME", with the base as parent.</summary>
    public static IEnumerable<ModelObject> AsModels(ServedModel model) =>
        model.Adapters.All.Select(a => new ModelObject($"{model.Id}:{a.Name}", a.CreatedUnixSeconds, "inferenceserver", Parent: model.Id));

    public static async Task<IResult> LoadAsync(HttpContext http, ModelHost host)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = Generation.RequireModel(host, reader);
        var name = reader.RequiredString("name");
        var path = reader.RequiredString("path");
        var scale = (float)(reader.OptionalNumber("scale", -LoraAdapters.MaxScale, LoraAdapters.MaxScale) ?? 1.0);
        if (LoraAdapters.CheckName(name) is { } badName) throw RequestReader.Invalid("name", badName);
        if (model.Adapters.Find(name) is not null) throw new ApiException(Conflict(name));

        LoadedLoraAdapter adapter;
        try
        {
            adapter = await Task.Run(() => model.Adapters.Load(name, path, scale), http.RequestAborted);
        }
        catch (ModelLoadException ex)
        {
            throw RequestReader.Invalid("path", ex.Message, "invalid_adapter_file");
        }
        catch (ArgumentException)
        {
            // Another request loaded this name in the meantime.
            throw new ApiException(Conflict(name));
        }
        return TypedResults.Json(Describe(model, adapter), ApiJson.Options, statusCode: StatusCodes.Status201Created);
    }

    public static IResult Delete(string name, ModelHost host)
    {
        var model = host.Model ?? throw new ApiException(ApiError.Loading);
        return model.Adapters.Remove(name)
            ? TypedResults.Json(new AdapterDeleted(name, true), ApiJson.Options)
            : AdapterSelection.NotFound(model.Id, name, "name").ToResult();
    }

    private static ApiError Conflict(string name) =>
        new(StatusCodes.Status409Conflict, $"An adapter named '{name}' is already loaded; DELETE it first to replace it.", "invalid_request_error", "name", "adapter_exists");

    private static List<AdapterObject> Describe(ServedModel model) => model.Adapters.All.Select(a => Describe(model, a)).ToList();

    private static AdapterObject Describe(ServedModel model, LoadedLoraAdapter adapter) => new(adapter.Name, model.Id, adapter.DefaultScale, adapter.CreatedUnixSeconds);
}
