namespace InferenceServer.Api;

/// <summary>GET /v1/models and /v1/models/{id}: every configured model, loaded or not.</summary>
internal static class ModelsEndpoint
{
    public static IResult List(ModelRegistry models) =>
        TypedResults.Json(new ModelList(models.Specs.Select(spec => Describe(spec.Id, models)).ToList()), ApiJson.Options);

    public static IResult Get(string id, ModelRegistry models) =>
        models.IsConfigured(id)
            ? TypedResults.Json(Describe(id, models), ApiJson.Options)
            : ApiError.ModelNotFound(id).ToResult();

    private static ModelObject Describe(string id, ModelRegistry models) => new(id, models.CreatedUnixSeconds, "inferenceserver");
}
