namespace InferenceServer.Operations;

/// <summary>
/// Who sent a request: an HttpContext feature set on every /v1 request before its endpoint runs
/// (<c>http.Features.Get&lt;RequestIdentity&gt;()</c>). <see cref="KeyId"/> is a hash of the API key,
/// never the key itself, so it can partition rate limits, label logs and isolate the prefix cache.
/// </summary>
public sealed record RequestIdentity(string KeyId, bool IsAdmin = false)
{
    /// <summary>Everyone, when the server has no API keys.</summary>
    public static readonly RequestIdentity Anonymous = new("anonymous");
}
