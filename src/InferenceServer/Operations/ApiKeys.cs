using System.Security.Cryptography;
using System.Text;
using InferenceServer.Api;

namespace InferenceServer.Operations;

/// <summary>
/// The API keys clients must present as <c>Authorization: Bearer KEY</c> or <c>x-api-key: KEY</c> (Anthropic's header). Keys are held only as SHA-256
/// hashes and compared in constant time against every known key. Admin keys are API keys too, and when
/// there are any, only they may change what the server serves (load or unload adapters). Thread-safe (immutable).
/// </summary>
internal sealed class ApiKeys
{
    private readonly byte[][] _hashes;
    private readonly byte[][] _adminHashes;
    private readonly byte[][] _metricsHashes;

    private ApiKeys(IEnumerable<string> keys, IEnumerable<string> adminKeys, IEnumerable<string> metricsKeys)
    {
        _adminHashes = adminKeys.Select(Hash).Distinct(new HashComparer()).ToArray();
        _hashes = keys.Select(Hash).Concat(_adminHashes).Distinct(new HashComparer()).ToArray();
        _metricsHashes = metricsKeys.Select(Hash).Distinct(new HashComparer()).ToArray();
    }

    public bool Required => _hashes.Length > 0;

    /// <summary>True when admin keys are configured: then administration needs one.</summary>
    public bool AdminRequired => _adminHashes.Length > 0;

    /// <summary>The keys from --api-key and --api-key-file. Throws <see cref="ArgumentException"/> for an unreadable file.</summary>
    public static ApiKeys From(ServerOptions options)
    {
        var keys = options.ApiKeys.Where(k => k.Length > 0).ToList();
        if (options.ApiKeyFile is { Length: > 0 } file)
        {
            try
            {
                keys.AddRange(File.ReadAllLines(file).Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#')));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--api-key-file {file}: {ex.Message}");
            }
        }
        return new ApiKeys(keys, options.AdminApiKeys.Where(k => k.Length > 0), options.MetricsApiKeys.Where(k => k.Length > 0));
    }

    /// <summary>The caller's identity, or the 401 to answer with.</summary>
    public (RequestIdentity? Identity, ApiError? Error) Authenticate(string? authorization, string? apiKey = null)
    {
        if (!Required) return (RequestIdentity.Anonymous, null);
        if ((Presented(authorization) ?? (string.IsNullOrWhiteSpace(apiKey) ? null : Hash(apiKey.Trim()))) is not { } presented)
            return (null, new ApiError(StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY) or in an x-api-key header.",
                "invalid_request_error", Code: "missing_api_key"));
        return Matches(presented, _hashes)
            ? (new RequestIdentity("key-" + Convert.ToHexStringLower(presented, 0, 8), Matches(presented, _adminHashes)), null)
            : (null, new ApiError(StatusCodes.Status401Unauthorized, "Incorrect API key provided.", "invalid_request_error", Code: "invalid_api_key"));
    }

    /// <summary>
    /// The 401 for a /metrics scrape without a metrics or admin key, when metrics keys are configured. The
    /// metrics name models, adapters and request volumes; API keys do not open them, so a client cannot read them.
    /// </summary>
    public ApiError? AuthorizeMetrics(string? authorization)
    {
        if (_metricsHashes.Length == 0) return null;
        var presented = Presented(authorization);
        return presented is not null && (Matches(presented, _metricsHashes) | Matches(presented, _adminHashes)) ? null
            : new ApiError(StatusCodes.Status401Unauthorized, "/metrics needs a metrics API key (--metrics-api-key) or an admin key, sent as 'Authorization: Bearer KEY'.",
                "invalid_request_error", Code: presented is null ? "missing_api_key" : "invalid_api_key");
    }

    /// <summary>The hash of the key in "Bearer KEY", or null when there is none.</summary>
    private static byte[]? Presented(string? authorization)
    {
        const string scheme = "Bearer ";
        return authorization is not null && authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && authorization.Length > scheme.Length
            ? Hash(authorization[scheme.Length..].Trim())
            : null;
    }

    /// <summary>Compares against every key, so the time taken does not say which one matched.</summary>
    private static bool Matches(byte[] presented, byte[][] known)
    {
        var matched = false;
        foreach (var hash in known) matched |= CryptographicOperations.FixedTimeEquals(presented, hash);
        return matched;
    }

    /// <summary>The 403 for a request that changes what the server serves without an admin key, when admin keys are configured.</summary>
    public ApiError? RequireAdmin(RequestIdentity identity) => !AdminRequired || identity.IsAdmin ? null
        : new ApiError(StatusCodes.Status403Forbidden, "Loading and unloading adapters needs an admin API key (--admin-api-key).",
            "permission_error", Code: "admin_key_required");

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private sealed class HashComparer : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj) => BitConverter.ToInt32(obj);
    }
}
