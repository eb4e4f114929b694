namespace InferenceServer.Api;

/// <summary>POST /apply-template (llama-server's shape): renders a chat request's messages and tools into the prompt, without generating.</summary>
internal static class ApplyTemplateEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, ModelRegistry models, ILoggerFactory loggers)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = await models.AcquireNamedOrDefaultAsync(http, reader);
        var prompt = ChatInput.Read(reader).Render(model.ChatRenderer, loggers.CreateLogger(typeof(ApplyTemplateEndpoint)));
        return TypedResults.Json(new { prompt }, ApiJson.Options);
    }
}
