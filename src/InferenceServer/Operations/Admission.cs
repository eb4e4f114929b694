using System.Globalization;
using System.Threading.RateLimiting;
using InferenceServer.Api;
using InferenceServer.Engine;
using Microsoft.Extensions.Options;

namespace InferenceServer.Operations;

/// <summary>
/// What a request may ask for: the per-key requests-per-minute window (checked at the gate for every API
/// request) and, for work that reaches a model (only through <see cref="EngineClient"/>), the resolved request's
/// size limits (400) and the per-key tokens-per-minute window (429 with Retry-After). Thread-safe.
/// </summary>
internal sealed class Admission : IDisposable
{
    private readonly ServerOptions _options;
    private readonly PartitionedRateLimiter<string>? _requests;
    private readonly PartitionedRateLimiter<string>? _tokens;

    public Admission(IOptions<ServerOptions> options)
    {
        _options = options.Value;
        _requests = PerMinute(_options.RequestsPerMinute);
        _tokens = PerMinute(_options.TokensPerMinute);
    }

    private static PartitionedRateLimiter<string>? PerMinute(int permits) => permits <= 0 ? null :
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <summary>Counts a request against its key's requests-per-minute window; the 429 to answer with when it is spent.</summary>
    public ApiError? TryAcquireRequest(RequestIdentity identity) =>
        Acquire(_requests, identity, 1, $"Rate limit reached for requests: {_options.RequestsPerMinute} per minute.");

    public void CheckMessages(ResolvedRequest resolved, int count)
    {
        if (count > resolved.Limits.MaxMessages)
            throw RequestReader.Invalid("messages", $"'messages' holds {count} messages; this server accepts at most {resolved.Limits.MaxMessages}.", "too_many_messages");
    }

    /// <summary>
    /// Applies the prompt and completion limits (an absent max_tokens is capped, a larger explicit one refused)
    /// and charges prompt + max_tokens to the key's tokens-per-minute window.
    /// </summary>
    public GenerationRequest Admit(ResolvedRequest resolved, GenerationRequest request, bool maxTokensGiven)
    {
        var limits = resolved.Limits;
        if (limits.MaxPromptTokens > 0 && request.PromptTokens.Length > limits.MaxPromptTokens)
            throw new ApiException(ApiError.BadRequest(
                $"The prompt is {request.PromptTokens.Length} tokens long; this server accepts at most {limits.MaxPromptTokens}.", code: "prompt_too_long"));
        if (limits.MaxCompletionTokens > 0 && request.MaxNewTokens > limits.MaxCompletionTokens)
        {
            if (maxTokensGiven)
                throw new ApiException(ApiError.BadRequest(
                    $"max_tokens is {request.MaxNewTokens}; this server generates at most {limits.MaxCompletionTokens} tokens per request.", "max_tokens", "invalid_value"));
            request = request with { MaxNewTokens = limits.MaxCompletionTokens };
        }

        ChargeTokens(resolved.Identity, request.PromptTokens.Length + request.MaxNewTokens);
        return request;
    }

    /// <summary>Charges tokens (prompt plus max_tokens, or embedding inputs) to the key's tokens-per-minute window.</summary>
    public void ChargeTokens(RequestIdentity identity, int tokens)
    {
        // A request larger than the whole window takes all of it rather than being refused forever.
        var cost = Math.Min(tokens, Math.Max(_options.TokensPerMinute, 1));
        if (Acquire(_tokens, identity, cost, $"Rate limit reached for tokens: {_options.TokensPerMinute} per minute (prompt plus max_tokens, or embedding inputs).") is { } refused)
            throw new ApiException(refused);
    }

    private static ApiError? Acquire(PartitionedRateLimiter<string>? limiter, RequestIdentity identity, int permits, string message)
    {
        if (limiter is null) return null;
        using var lease = limiter.AttemptAcquire(identity.KeyId, permits);
        if (lease.IsAcquired) return null;
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? (int)Math.Ceiling(wait.TotalSeconds) : 60;
        retryAfter = Math.Max(retryAfter, 1);
        return new ApiError(StatusCodes.Status429TooManyRequests, $"{message} Retry after {retryAfter.ToString(CultureInfo.InvariantCulture)} s.",
            "rate_limit_error", Code: "rate_limit_exceeded", RetryAfterSeconds: retryAfter);
    }

    public void Dispose()
    {
        _requests?.Dispose();
        _tokens?.Dispose();
    }
}
