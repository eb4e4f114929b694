using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace InferenceServer.ModelDownload;

/// <summary>The model cannot be downloaded; the message is one line that says what and why.</summary>
internal sealed class ModelDownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Downloads a file from a Hugging Face hub into the cache, the way the hub serves it: a HEAD on
/// /{repo}/resolve/main/{file} answers with the size (X-Linked-Size) and SHA-256 (X-Linked-Etag) of an LFS
/// file and a redirect to its storage; the body comes from there, resumed with a Range request.
/// </summary>
/// <remarks>
/// Invariant: a file at the cache path is complete and verified, because only a download whose size and
/// SHA-256 matched is renamed there from its ".part" file. So a cached file is used without any request
/// (which also makes restarts work offline); deleting it fetches the hub's current version.
/// </remarks>
internal sealed class HubDownloader(HubSettings hub, HttpMessageHandler handler, IDownloadProgress progress)
{
    private const string Revision = "main";
    private const int MaxRedirects = 5;

    public static HttpMessageHandler CreateHandler() => new SocketsHttpHandler
    {
        // Redirects are followed by hand: the token must reach the hub but never the storage it redirects to.
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>Where <paramref name="file"/> is kept in the cache, downloaded or not.</summary>
    public string CachePath(HubFile file) =>
        Path.Combine([hub.CacheDirectory, file.Owner, file.Repository, .. file.File.Split('/')]);

    /// <summary>Returns the cached file's path, downloading it first when it is not cached. Throws <see cref="ModelDownloadException"/>.</summary>
    public async Task<string> GetAsync(HubFile file, CancellationToken cancellationToken)
    {
        var target = CachePath(file);
        if (File.Exists(target)) return target;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);

        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("InferenceServer/1.0");
        try
        {
            var published = await ResolveAsync(http, file, cancellationToken);
            var partial = target + ".part";
            await DownloadAsync(http, file, published, partial, cancellationToken);
            File.Move(partial, target, overwrite: true);
            return target;
        }
        catch (HttpRequestException ex)
        {
            throw new ModelDownloadException($"Cannot download {file}: {hub.Endpoint.Host} is unreachable ({ex.Message}). Connect to the internet, set HF_ENDPOINT to a reachable hub, or pass -m with a local GGUF file.", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ModelDownloadException($"Cannot download {file}: {hub.Endpoint.Host} did not answer within a minute.", ex);
        }
        catch (IOException ex) when (ex is HttpIOException || ex.InnerException is System.Net.Sockets.SocketException)
        {
            throw new ModelDownloadException($"Cannot download {file}: the connection broke ({ex.Message}). Start again to resume from {FormatBytes(PartialLength(target + ".part"))}.", ex);
        }
    }

    /// <summary>What the hub publishes about the file: where to fetch it, its size and its SHA-256 (both when it is an LFS file).</summary>
    private sealed record Published(Uri Location, long? Size, string? Sha256);

    private async Task<Published> ResolveAsync(HttpClient http, HubFile file, CancellationToken cancellationToken)
    {
        var escapedPath = string.Join('/', file.File.Split('/').Select(Uri.EscapeDataString));
        var url = new Uri(hub.Endpoint, $"{file.Owner}/{file.Repository}/resolve/{Revision}/{escapedPath}");
        for (var redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, url);
            Authorize(request);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            using var response = await http.SendAsync(request, timeout.Token);
            ThrowUnlessSuccess(response, file);

            var size = LongHeader(response, "X-Linked-Size");
            var sha256 = Sha256FromEtag(Header(response, "X-Linked-Etag"));
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                var next = new Uri(url, location);
                // An LFS file redirects to its storage, and the hub tells its size and hash on that redirect.
                if (size is not null || sha256 is not null) return new Published(next, size, sha256);
                if (redirects == MaxRedirects) throw new ModelDownloadException($"Cannot download {file}: the hub redirected more than {MaxRedirects} times.");
                url = next;
                continue;
            }
            // A small (non-LFS) file is served in place; its ETag is a git hash, not a SHA-256, unless it says otherwise.
            return new Published(url, size ?? response.Content.Headers.ContentLength, sha256 ?? Sha256FromEtag(response.Headers.ETag?.Tag));
        }
    }

    private async Task DownloadAsync(HttpClient http, HubFile file, Published published, string partial, CancellationToken cancellationToken)
    {
        var have = PartialLength(partial);
        if (published.Size is { } expected && have > expected) have = 0;

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true);
        output.SetLength(have);
        await HashExistingAsync(output, hash, cancellationToken);

        if (published.Size != have)
        {
            using var response = await GetBodyAsync(http, file, published.Location, have, cancellationToken);
            if (response.StatusCode != HttpStatusCode.PartialContent && have > 0)
            {
                // The server ignored the Range header and sends the whole file: start over.
                have = 0;
                output.SetLength(0);
                hash.GetHashAndReset();
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await progress.TrackAsync(file.File, published.Size, have, async report =>
            {
                var buffer = new byte[1 << 20];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    hash.AppendData(buffer, 0, read);
                    have += read;
                    report(have);
                }
            });
        }
        await output.FlushAsync(cancellationToken);

        if (published.Size is { } size && have != size)
            throw new ModelDownloadException($"Cannot download {file}: the connection ended after {FormatBytes(have)} of {FormatBytes(size)}. Start again to resume.");
        if (published.Sha256 is { } sha256 && Convert.ToHexStringLower(hash.GetHashAndReset()) is var actual && actual != sha256)
        {
            output.Close();
            File.Delete(partial);
            throw new ModelDownloadException($"Downloaded {file} does not match the SHA-256 the hub publishes (expected {sha256}, got {actual}); the file was deleted, start again to retry.");
        }
    }

    private async Task<HttpResponseMessage> GetBodyAsync(HttpClient http, HubFile file, Uri location, long offset, CancellationToken cancellationToken)
    {
        for (var redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, location);
            if (location.Host == hub.Endpoint.Host) Authorize(request);
            if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } next && redirects < MaxRedirects)
            {
                location = new Uri(location, next);
                response.Dispose();
                continue;
            }
            try
            {
                ThrowUnlessSuccess(response, file);
            }
            catch
            {
                response.Dispose();
                throw;
            }
            return response;
        }
    }

    private static async Task HashExistingAsync(FileStream file, IncrementalHash hash, CancellationToken cancellationToken)
    {
        file.Position = 0;
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0) hash.AppendData(buffer, 0, read);
    }

    private void Authorize(HttpRequestMessage request)
    {
        if (hub.Token is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    private void ThrowUnlessSuccess(HttpResponseMessage response, HubFile file)
    {
        var status = (int)response.StatusCode;
        if (status < 400) return;
        throw new ModelDownloadException(response.StatusCode switch
        {
            // The hub answers 401 both for private or gated repositories and, to anonymous callers, for missing ones.
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => hub.Token is null
                ? $"Hugging Face refused {file} ({status}): the repository does not exist, or it is private or gated and needs HF_TOKEN set to a token that may read it."
                : $"Hugging Face refused {file} ({status}): the token in HF_TOKEN may not read this repository (accept its terms on the model page if it is gated), or the repository does not exist.",
            HttpStatusCode.NotFound => $"Hugging Face has no {file} (404): check the repository and file names.",
            _ => $"Cannot download {file}: the hub answered {status} {response.ReasonPhrase}.",
        });
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static long? LongHeader(HttpResponseMessage response, string name) =>
        long.TryParse(Header(response, name), out var value) ? value : null;

    /// <summary>The hub's ETag of an LFS file is the file's SHA-256 (quoted, sometimes weak); anything else is not.</summary>
    private static string? Sha256FromEtag(string? etag)
    {
        var value = etag?.Replace("W/", "").Trim('"').ToLowerInvariant();
        return value is { Length: 64 } && value.All(char.IsAsciiHexDigit) ? value : null;
    }

    private static long PartialLength(string partial) => File.Exists(partial) ? new FileInfo(partial).Length : 0;

    internal static string FormatBytes(double bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (1 << 30):0.00} GiB",
        >= 1 << 20 => $"{bytes / (1 << 20):0.0} MiB",
        >= 1 << 10 => $"{bytes / (1 << 10):0.0} KiB",
        _ => $"{bytes:0} B",
    };
}
