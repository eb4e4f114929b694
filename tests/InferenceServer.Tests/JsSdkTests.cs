namespace InferenceServer.Tests;

/// <summary>
/// Runs each tests/js/*.test.js, one test case per file, (the official openai npm package, `node --test`) against the tool server
/// (stories260K-chatml: it can spell JSON). .ci/run installs the packages with npm ci.
/// </summary>
[Collection(ToolServerCollection.Name)]
public class JsSdkTests(ToolServerFixture server)
{
    /// <summary>stories260K's n_embd (tests/fixtures/models/MODELS.md): the length its embeddings must have.</summary>
    private const int EmbeddingLength = 64;

    private static readonly string JsDirectory = Path.Combine(TestFixtures.RepositoryRoot, "tests", "js");

    public static TheoryData<string> Files => new(Directory.GetFiles(JsDirectory, "*.test.js").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(Files))]
    public async Task The_openai_npm_package_passes(string file)
    {
        Assert.True(Directory.Exists(Path.Combine(JsDirectory, "node_modules", "openai")), "tests/js/node_modules is missing: run `npm ci` in tests/js (bash .ci/run does).");
        await NodeTest.RunAsync(JsDirectory, file, new()
        {
            ["BASE_URL"] = new Uri(server.BaseUrl, "v1").ToString(),
            ["MODEL_ID"] = ToolServerFixture.ModelId,
            ["EMBEDDING_DIMENSIONS"] = EmbeddingLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }
}
