using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Tests.ModelDownload;

/// <summary>
/// A stand-in for huggingface.co on 127.0.0.1, answering the way the hub does for LFS files: HEAD or GET on
/// /{owner}/{repo}/resolve/{revision}/{file} gives 302 to a storage URL with ETag, X-Linked-Size and
/// X-Linked-Etag (the SHA-256); storage (on host "localhost", so a different host from the endpoint) serves the bytes with Range support. Private repositories answer
/// 401 without the token, unknown files 404.
/// </summary>
public sealed class HubStandIn : IAsyncDisposable
{
    public const string Token = "hf_test_token";

    private sealed record HostedFile(byte[] Content, string PublishedSha256, bool Private);

    private readonly ConcurrentDictionary<string, HostedFile> _files = new();
    private readonly WebApplication _app;

    /// <summary>Every request as "METHOD path [Range] [auth]", in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>When set, the next storage GET sends only this many bytes of its body, then drops the connection.</summary>
    public long? BreakNextBodyAfter { get; set; }

    /// <summary>When set, storage GETs send nothing until this task completes (a download that takes as long as a test needs).</summary>
    public Task? HoldBodies { get; set; }

    public Uri Endpoint { get; private set; } = null!;

    private HubStandIn(WebApplication app) => _app = app;

    public static async Task<HubStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var hub = new HubStandIn(app);
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            string?[] parts = [request.Method, request.Path, request.Headers.Range, request.Headers.Authorization.Count > 0 ? "auth" : null];
            hub.Requests.Enqueue(string.Join(' ', parts.Where(part => !string.IsNullOrEmpty(part))));
            await next(context);
        });
        app.MapMethods("/{owner}/{repo}/resolve/{revision}/{**file}", ["HEAD", "GET"], hub.Resolve);
        app.MapMethods("/storage/{sha}", ["HEAD", "GET"], hub.Storage);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        hub.Endpoint = new Uri(address + "/");
        return hub;
    }

    /// <summary>Publishes <paramref name="content"/> as OWNER/REPO/FILE; <paramref name="publishedSha256"/> overrides the hash the hub announces.</summary>
    public void Add(string repo, string file, byte[] content, bool isPrivate = false, string? publishedSha256 = null) =>
        _files[$"{repo}/{file}"] = new HostedFile(content, publishedSha256 ?? Convert.ToHexStringLower(SHA256.HashData(content)), isPrivate);

    public int BodyDownloads => Requests.Count(r => r.StartsWith("GET /storage/"));

    private IResult Resolve(HttpContext context, string owner, string repo, string revision, string file)
    {
        if (!_files.TryGetValue($"{owner}/{repo}/{file}", out var hosted))
            return Error(context, StatusCodes.Status404NotFound, "EntryNotFound");
        if (hosted.Private && context.Request.Headers.Authorization != $"Bearer {Token}")
            return Error(context, StatusCodes.Status401Unauthorized, "RepoNotFound");
        var headers = context.Response.Headers;
        headers.ETag = $"\"{hosted.PublishedSha256}\"";
        headers["X-Linked-Etag"] = $"\"{hosted.PublishedSha256}\"";
        headers["X-Linked-Size"] = hosted.Content.Length.ToString();
        headers["X-Repo-Commit"] = "0123456789abcdef0123456789abcdef01234567";
        // Storage lives on another host, as the hub's CDN does: "localhost" rather than the endpoint's 127.0.0.1.
        var storage = new UriBuilder(Endpoint) { Host = "localhost", Path = $"storage/{hosted.PublishedSha256}", Query = $"file={Uri.EscapeDataString(file)}" };
        return Results.Redirect(storage.Uri.ToString());
    }

    private async Task Storage(HttpContext context, string sha)
    {
        var hosted = _files.Values.FirstOrDefault(f => f.PublishedSha256 == sha);
        if (hosted is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (context.Request.Method == "GET" && HoldBodies is { } hold) await hold;
        if (context.Request.Method == "GET" && BreakNextBodyAfter is { } cut)
        {
            BreakNextBodyAfter = null;
            context.Response.ContentLength = hosted.Content.Length;
            await context.Response.Body.WriteAsync(hosted.Content.AsMemory(0, (int)cut));
            await context.Response.Body.FlushAsync();
            context.Abort();
            return;
        }
        await Results.Bytes(hosted.Content, "application/octet-stream", enableRangeProcessing: true).ExecuteAsync(context);
    }

    private static IResult Error(HttpContext context, int status, string code)
    {
        context.Response.Headers["X-Error-Code"] = code;
        return Results.Json(new { error = code }, statusCode: status);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
