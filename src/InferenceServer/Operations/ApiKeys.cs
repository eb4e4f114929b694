using System.Security.Cryptography;
using System.Text;
using InferenceServer.Api;

namespace InferenceServer.Operations;

/// <summary>
/// Who sent a request: an HttpContext feature set on every /v1 request before its endpoint runs
/// (<c>http.Features.Get&lt;RequestIdentity&gt;()</c>). <see cref="KeyId"/> is a hash of the API key,
/// never the key itself, so it can partition rate limits, label logs and isolate the prefix cache.
/// </summary>
public sealed record RequestIdentity(string KeyId)
{
    /// <summary>Everyone, when the server has no API keys.</summary>
    public static readonly RequestIdentity Anonymous = new("anonymous");

    public static RequestIdentity Of(HttpContext http) => http.Features.Get<RequestIdentity>() ?? Anonymous;
}

/// <summary>
/// The API keys clients must present as <c>Authorization: Bearer KEY</c>. Keys are held only as SHA-256
/// hashes and compared in constant time against every known key. Thread-safe (immutable).
/// </summary>
internal sealed class ApiKeys
{
    private readonly byte[][] _hashes;

    private ApiKeys(IEnumerable<string> keys) => _hashes = keys.Select(Hash).Distinct(new HashComparer()).ToArray();

    public bool Required => _hashes.Length > 0;

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
        return new ApiKeys(keys);
    }

    /// <summary>The caller's identity, or the 401 to answer with.</summary>
    public (RequestIdentity? Identity, ApiError? Error) Authenticate(string? authorization)
    {
        if (!Required) return (RequestIdentity.Anonymous, null);
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || authorization.Length == scheme.Length)
            return (null, new ApiError(StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", Code: "missing_api_key"));

        var presented = Hash(authorization[scheme.Length..].Trim());
        var matched = false;
        foreach (var known in _hashes) matched |= CryptographicOperations.FixedTimeEquals(presented, known);
        return matched
            ? (new RequestIdentity("key-" + Convert.ToHexStringLower(presented, 0, 8)), null)
            : (null, new ApiError(StatusCodes.Status401Unauthorized, "Incorrect API key provided.", "invalid_request_error", Code: "invalid_api_key"));
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private sealed class HashComparer : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj) => BitConverter.ToInt32(obj);
    }
}
