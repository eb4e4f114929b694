using InferenceServer.Engine;
using InferenceServer.Operations;
using Microsoft.Extensions.Options;

namespace InferenceServer.Api;

/// <summary>
/// The one place a request's <c>model</c> becomes a <see cref="ResolvedRequest"/>: the model is loaded on demand
/// (bounded wait) and leased until the HTTP request completes, after a streamed response has ended, so it is never
/// unloaded under a request. Thread-safe.
/// </summary>
internal sealed class RequestResolver(ModelRegistry models, IOptions<ServerOptions> options)
{
    private readonly RequestLimits _limits = new(options.Value.MaxMessages, options.Value.MaxPromptTokens, options.Value.MaxCompletionTokens);
    private readonly OutputPolicy _output = new(options.Value.ReasoningFormat != "none");

    /// <summary>
    /// A generation request's model and adapters: <c>model</c> may name an adapter as <c>BASE:ADAPTER</c> (a name that
    /// is no configured model but is one followed by <c>:ADAPTER</c>; ids may hold ':' themselves, the last one
    /// splits), and <c>adapters</c> adds more (see <see cref="AdapterSelection"/>).
    /// </summary>
    public async Task<ResolvedRequest> ResolveAsync(HttpContext http, RequestReader reader)
    {
        var requested = reader.RequiredString("model");
        var (id, adapter) = AdapterSelection.SplitModelName(requested, models.IsConfigured);
        var (model, adapters) = AdapterSelection.Select(await AcquireAsync(http, id), requested, adapter, reader);
        return Resolved(http, model, adapters).WithReasoningFormat(reader);
    }

    /// <summary>A request that runs on the base model only (embeddings, adapter administration).</summary>
    public async Task<ResolvedRequest> ResolveBaseAsync(HttpContext http, RequestReader reader) =>
        Resolved(http, await AcquireAsync(http, reader.RequiredString("model")), AdapterSet.Base);

    /// <summary>For routes where "model" is optional (tokenizer, apply-template): the named model, else the first configured one.</summary>
    public async Task<ResolvedRequest> ResolveNamedOrDefaultAsync(HttpContext http, RequestReader reader) =>
        Resolved(http, await AcquireAsync(http, reader.OptionalString("model") ?? models.Specs[0].Id), AdapterSet.Base);

    private ResolvedRequest Resolved(HttpContext http, ServedModel model, AdapterSet adapters) =>
        new(model, adapters, RequestIdentity.Of(http), _limits, _output, http.Features.Get<RequestRecord>(), http.Response.RegisterForDispose);

    private async Task<ServedModel> AcquireAsync(HttpContext http, string id)
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
}
