using InferenceServer.Engine;
using InferenceServer.Operations;
using Microsoft.Extensions.Options;

namespace InferenceServer.Api;

/// <summary>The size limits a request is admitted under (0 = no limit on prompt or completion tokens).</summary>
internal sealed record RequestLimits(int MaxMessages, int MaxPromptTokens, int MaxCompletionTokens);

/// <summary>How a chat-shaped request's output is read: <paramref name="SplitReasoning"/> unless --reasoning-format none (or the request's reasoning_format) leaves thinking inline.</summary>
internal sealed record OutputPolicy(bool SplitReasoning);

/// <summary>
/// What a request resolved to, passed along its whole way instead of being looked up again: the leased model
/// (<see cref="Model"/>'s id is what the client named, <c>BASE:ADAPTER</c> included), the LoRA adapters it
/// decodes under, who sent it (the tenant whose prefix-cache entries and rate limits it uses), its limits and its
/// telemetry record. Immutable.
/// </summary>
internal sealed record ResolvedRequest(
    ServedModel Model,
    AdapterSet Adapters,
    RequestIdentity Identity,
    RequestLimits Limits,
    OutputPolicy Output,
    RequestRecord? Record,
    Action<IDisposable> DisposeAtEnd)
{
    /// <summary>Cached prompt prefixes are shared only among requests of one API key (and, within it, one cache_salt).</summary>
    public string CacheKey(string salt) => $"{Identity.KeyId}/{salt}";

    /// <summary>How many tokens generated text is (reasoning_tokens); text the vocabulary cannot encode counts 0 rather than reaching llama.cpp.</summary>
    public int CountTokens(string text) =>
        text.Length == 0 || Model.Tokenizer.FindUnencodable(text) is not null ? 0 : Model.Tokenizer.Tokenize(text, addBos: false, parseSpecial: true).Length;

    /// <summary>Tokenizes prompt text after checking that the vocabulary can encode it (llama.cpp aborts the process otherwise).</summary>
    public int[] Tokenize(string text, string param) =>
        Model.Tokenizer.FindUnencodable(text) is { } problem
            ? throw RequestReader.Invalid(param, problem, "unencodable_text")
            : Model.Tokenizer.Tokenize(text, addBos: true, parseSpecial: true);
}

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
        var colon = requested.LastIndexOf(':');
        var named = !models.IsConfigured(requested) && colon > 0 && models.IsConfigured(requested[..colon]);
        var model = await AcquireAsync(http, named ? requested[..colon] : requested);
        var stack = new List<ScaledAdapter>();
        if (named)
        {
            var name = requested[(colon + 1)..];
            var adapter = model.Adapters.Find(name) ?? throw new ApiException(AdapterSelection.NotFound(model.Id, name, "model"));
            stack.Add(new ScaledAdapter(adapter, adapter.DefaultScale));
            model = model with { Id = requested };
        }
        AdapterSelection.ReadStack(reader, model, stack);
        var resolved = Resolved(http, model, AdapterSet.Of(stack));
        // llama-server's per-request reasoning_format overrides the server's.
        return reader.OptionalString("reasoning_format") switch
        {
            null => resolved,
            "none" => resolved with { Output = new OutputPolicy(false) },
            "auto" or "deepseek" => resolved with { Output = new OutputPolicy(true) },
            var other => throw RequestReader.Invalid("reasoning_format", $"Invalid reasoning_format '{other}': expected 'auto' or 'none'."),
        };
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
