namespace InferenceServer.Api;

/// <summary>POST /apply-template (llama-server's shape): renders a chat request's messages and tools into the prompt, without generating.</summary>
internal static class ApplyTemplateEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, ModelHost host)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = host.Model ?? throw new ApiException(ApiError.Loading);
        if (reader.OptionalString("model") is { } requested && requested != model.Id) throw new ApiException(ApiError.ModelNotFound(requested));
        var prompt = ChatInput.Read(reader).Render(model.ChatRenderer);
        return TypedResults.Json(new { prompt }, ApiJson.Options);
    }
}
