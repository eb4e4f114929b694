namespace InferenceServer.Api;

/// <summary>GET /v1/models and /v1/models/{id}: every configured model, loaded or not.</summary>
internal static class ModelsEndpoint
{
    public static IResult List(ModelRegistry models) =>
        TypedResults.Json(new ModelList([.. models.Specs.Select(spec => Describe(spec.Id, models)), .. AdaptersEndpoint.AsModels(models)]), ApiJson.Options);

    /// <summary>A configured model, or a loaded model's adapter as MODEL:ADAPTER.</summary>
    public static IResult Get(string id, ModelRegistry models) =>
        (models.IsConfigured(id) ? Describe(id, models) : AdaptersEndpoint.AsModels(models).FirstOrDefault(m => m.Id == id)) is { } found
            ? TypedResults.Json(found, ApiJson.Options)
            : ApiError.ModelNotFound(id).ToResult();

    private static ModelObject Describe(string id, ModelRegistry models) => new(id, models.CreatedUnixSeconds, "inferenceserver");
}
