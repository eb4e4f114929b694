using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.StaticFiles;

namespace InferenceServer.WebUi;

/// <summary>
/// The web playground: the committed bundle of src/InferenceServer.WebUi, embedded in the assembly and served at /
/// and /assets/…. Model output is sanitised before it becomes HTML; the Content-Security-Policy (no inline or
/// eval'd script, nothing from other origins) is the second wall.
/// </summary>
internal static class Playground
{
    private const string ResourcePrefix = "webui/";

    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private sealed record Asset(byte[] Body, string ContentType, string ETag);

    public static void Map(WebApplication app)
    {
        var assets = Load();
        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/", methods, (HttpContext http) => Serve(http, assets["index.html"]));
        app.MapMethods("/assets/{**path}", methods, (string path, HttpContext http) =>
            assets.TryGetValue("assets/" + path, out var asset) ? Serve(http, asset) : Results.NotFound());
    }

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(Playground).Assembly;
        var types = new FileExtensionContentTypeProvider();
        return assembly.GetManifestResourceNames().Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal)).ToFrozenDictionary(
            name => name[ResourcePrefix.Length..].Replace('\\', '/'),
            name =>
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                var body = copy.ToArray();
                var type = types.TryGetContentType(name, out var known) ? known : "application/octet-stream";
                if (type.StartsWith("text/", StringComparison.Ordinal) || type.EndsWith("javascript", StringComparison.Ordinal)) type += "; charset=utf-8";
                return new Asset(body, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(body))[..16]}\"");
            });
    }

    private static IResult Serve(HttpContext http, Asset asset)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidated on every load, so an upgraded server never pairs a cached page with new scripts.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Body, asset.ContentType);
    }
}
