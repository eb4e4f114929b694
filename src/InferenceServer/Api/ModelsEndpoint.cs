namespace InferenceServer.Api;

/// <summary>GET /v1/models and /v1/models/{id}.</summary>
internal static class ModelsEndpoint
{
    public static IResult List(ModelHost host) =>
        TypedResults.Json(new ModelList(host.Model is { } model ? [Describe(model), .. AdaptersEndpoint.AsModels(model)] : []), ApiJson.Options);

    public static IResult Get(string id, ModelHost host) =>
        host.Model is { } model && (model.Id == id ? Describe(model) : AdaptersEndpoint.AsModels(model).FirstOrDefault(m => m.Id == id)) is { } found
            ? TypedResults.Json(found, ApiJson.Options)
            : ApiError.ModelNotFound(id).ToResult();

    private static ModelObject Describe(ServedModel model) => new(model.Id, model.CreatedUnixSeconds, "inferenceserver");
}
