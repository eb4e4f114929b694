using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>
/// The server started with --api-key, for the playground's key prompt, serving stories260K-chatml (byte-fallback
/// vocabulary, so structured output can spell JSON).
/// </summary>
public sealed class KeyedServerFixture : ServerFixture
{
    public const string Key = "sk-test-playground";
    public new const string ModelId = "stories260K-chatml";

    protected override string[] Args => ["-m", TestFixtures.Model(ModelId + ".gguf"), "--port", "0", "-np", "2", "-c", "2048", "-t", "1", "--api-key", Key];
}

/// <summary>
/// The web playground in Debian's Chromium (tests/browser/playground.test.js, playwright-core) against the real server
/// and ones that need an API key or serve the built-in demo model. .ci/run installs Chromium and the npm package.
/// </summary>
[Collection(ServerCollection.Name)]
public class PlaygroundTests(ServerFixture server, KeyedServerFixture keyed, DemoServerFixture demo) : IClassFixture<KeyedServerFixture>, IClassFixture<DemoServerFixture>
{
    private static readonly string BrowserTests = Path.Combine(TestFixtures.RepositoryRoot, "tests", "browser");

    [Fact]
    public async Task The_playground_works_in_a_real_browser()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Chromium is missing: apt-get install chromium (bash .ci/run does).");
        Assert.True(Directory.Exists(Path.Combine(BrowserTests, "node_modules", "playwright-core")), "tests/browser/node_modules is missing: run `npm ci` there (bash .ci/run does).");
        await NodeTest.RunAsync(BrowserTests, "playground.test.js", new()
        {
            ["BASE_URL"] = server.BaseUrl.ToString(),
            ["KEYED_URL"] = keyed.BaseUrl.ToString(),
            ["API_KEY"] = KeyedServerFixture.Key,
            ["KEYED_MODEL_ID"] = KeyedServerFixture.ModelId,
            ["DEMO_URL"] = demo.BaseUrl.ToString(),
            ["MODEL_ID"] = ServerFixture.ModelId,
        });
    }

    [Fact]
    public async Task The_page_and_its_assets_are_served_with_a_strict_content_security_policy()
    {
        using var page = await server.Http.GetAsync("");
        var html = await page.Content.ReadAsStringAsync();
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        using var script = await server.Http.GetAsync("assets/app.js");
        using var again = new HttpRequestMessage(HttpMethod.Get, "assets/app.js");
        again.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(script.Headers.ETag!.ToString()));
        using var revalidated = await server.Http.SendAsync(again);

        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<script type=\"module\" src=\"assets/app.js\"></script>", html);
        Assert.Contains("script-src 'self';", policy);
        Assert.DoesNotContain("unsafe-", policy);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("assets/missing.js")).StatusCode);
    }

    [Fact]
    public async Task The_status_endpoint_needs_the_key_like_the_api()
    {
        using var refused = await keyed.Http.GetAsync("status");
        using var request = new HttpRequestMessage(HttpMethod.Get, "status") { Headers = { Authorization = new("Bearer", KeyedServerFixture.Key) } };
        using var allowed = await keyed.Http.SendAsync(request);
        var model = JsonNode.Parse(await allowed.Content.ReadAsStringAsync())!["models"]![0]!;

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(KeyedServerFixture.ModelId, (string)model["id"]!);
        Assert.True((bool)model["loaded"]!);
        Assert.True((int)model["kv_cells"]!["total"]! > 0);
    }
}

/// <summary>The server started with --no-webui: / is an unknown route again, the API is unchanged.</summary>
public sealed class NoWebUiServerFixture : ServerFixture
{
    protected override string[] ExtraArgs => ["-np", "1", "--no-webui"];
}

public class NoWebUiTests(NoWebUiServerFixture server) : IClassFixture<NoWebUiServerFixture>
{
    [Fact]
    public async Task With_no_webui_the_root_and_assets_are_unknown_routes()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("assets/app.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("v1/models")).StatusCode);
        // Anthropic's clients check with HEAD / that the server is up.
        Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, ""))).StatusCode);
    }
}
