using System.Globalization;

namespace InferenceServer.Tests;

/// <summary>
/// The tool server (stories260K-chatml with Qwen 2.5's template) behind an API key and a body limit: what clients of
/// Anthropic's and Ollama's APIs meet on a server that is set up for more than one user.
/// </summary>
public sealed class ProtocolServerFixture : ServerFixture
{
    public new const string ModelId = ToolServerFixture.ModelId;
    public const string Key = "sk-protocols";
    public const int MaxBodyBytes = 100_000;

    protected override string[] Args =>
        ["-m", TestFixtures.Model("stories260K-chatml.gguf"), "--chat-template", ToolServerFixture.TemplatePath, "--port", "0", "-np", "4", "-c", "8192", "-t", "1",
         "--api-key", Key, "--max-body-bytes", MaxBodyBytes.ToString(CultureInfo.InvariantCulture)];

    /// <summary>A client without OpenAI's schema check: these routes answer in other protocols' shapes.</summary>
    public HttpClient Plain(string? key = Key)
    {
        var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromMinutes(2) };
        if (key is not null) client.DefaultRequestHeaders.Add("x-api-key", key);
        return client;
    }
}

[CollectionDefinition(Name)]
public sealed class ProtocolServerCollection : ICollectionFixture<ProtocolServerFixture>
{
    public const string Name = "protocol server";
}

/// <summary>Runs each tests/js/protocols/*.test.js (the official @anthropic-ai/sdk and ollama npm packages), one test case per file.</summary>
[Collection(ProtocolServerCollection.Name)]
public class ProtocolSdkTests(ProtocolServerFixture server)
{
    /// <summary>stories260K's n_embd and file size (tests/fixtures/models/MODELS.md).</summary>
    private const int EmbeddingLength = 64;
    private const long ModelFileBytes = 1_185_600;

    private static readonly string JsDirectory = Path.Combine(TestFixtures.RepositoryRoot, "tests", "js", "protocols");

    public static TheoryData<string> Files => new(Directory.GetFiles(JsDirectory, "*.test.js").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(Files))]
    public async Task The_official_npm_package_passes(string file)
    {
        Assert.True(Directory.Exists(Path.Combine(JsDirectory, "..", "node_modules", "@anthropic-ai", "sdk")), "tests/js/node_modules is missing: run `npm ci` in tests/js (bash .ci/run does).");
        await NodeTest.RunAsync(JsDirectory, file, new()
        {
            ["SERVER_URL"] = server.BaseUrl.ToString().TrimEnd('/'),
            ["MODEL_ID"] = ProtocolServerFixture.ModelId,
            ["API_KEY"] = ProtocolServerFixture.Key,
            ["MODEL_FILE_BYTES"] = ModelFileBytes.ToString(CultureInfo.InvariantCulture),
            ["EMBEDDING_DIMENSIONS"] = EmbeddingLength.ToString(CultureInfo.InvariantCulture),
        });
    }
}
