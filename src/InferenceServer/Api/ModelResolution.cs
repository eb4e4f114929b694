namespace InferenceServer.Api;

/// <summary>Turns a request's model name into a loaded model held for the rest of the HTTP request.</summary>
internal static class ModelResolution
{
    /// <summary>
    /// The loaded model with this id, loading it on demand (bounded wait). The lease is released when the HTTP
    /// request completes, after a streamed response has ended, so the model is never unloaded under a request.
    /// </summary>
    public static async Task<ServedModel> AcquireAsync(this ModelRegistry models, HttpContext http, string id)
    {
        try
        {
            var lease = await models.AcquireAsync(id, http.RequestAborted);
            http.Response.RegisterForDispose(lease);
            return lease.Model;
        }
        catch (UnknownModelException)
        {
            throw new ApiException(ApiError.ModelNotFound(id));
        }
        catch (ModelUnavailableException ex)
        {
            throw new ApiException(new ApiError(StatusCodes.Status503ServiceUnavailable, ex.Message, "service_unavailable", "model", ex.Code, RetryAfterSeconds: ex.RetryAfterSeconds));
        }
    }

    /// <summary>For routes where "model" is optional (tokenizer, apply-template): the named model, else the first configured one.</summary>
    public static Task<ServedModel> AcquireNamedOrDefaultAsync(this ModelRegistry models, HttpContext http, RequestReader reader) =>
        models.AcquireAsync(http, reader.OptionalString("model") ?? models.Specs[0].Id);
}
