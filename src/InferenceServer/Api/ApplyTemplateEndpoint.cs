namespace InferenceServer.Api;

/// <summary>POST /apply-template (llama-server's shape): renders a chat request's messages and tools into the prompt, without generating.</summary>
internal static class ApplyTemplateEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, RequestResolver resolver, ILoggerFactory loggers)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = (await resolver.ResolveNamedOrDefaultAsync(http, reader)).Model;
        var prompt = ChatInput.Read(reader).Render(model.ChatRenderer, loggers.CreateLogger(typeof(ApplyTemplateEndpoint)));
        return TypedResults.Json(new { prompt }, ApiJson.Options);
    }
}
