using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace InferenceServer.Tests;

/// <summary>The server with no -m and no reachable hub (HF_ENDPOINT on a closed port): it serves the built-in demo model.</summary>
public sealed class DemoServerFixture : ServerFixture
{
    public const string UnreachableHub = "http://127.0.0.1:1/";

    public string Cache { get; } = Directory.CreateTempSubdirectory("demo-cache-").FullName;

    protected override string[] Args => ["--model-cache", Cache, "--port", "0", "-np", "2", "-t", "1"];

    protected override void Configure(WebApplicationBuilder builder) =>
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["HF_ENDPOINT"] = UnreachableHub, ["HF_TOKEN"] = "" });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(Cache, recursive: true);
    }
}

public sealed class DemoModelTests(DemoServerFixture server) : IClassFixture<DemoServerFixture>
{
    [Fact]
    public async Task Offline_with_no_model_the_server_serves_the_demo_model_and_says_so()
    {
        var models = JsonNode.Parse(await server.Http.GetStringAsync("v1/models"))!["data"]!.AsArray().Select(m => (string)m!["id"]!);
        var status = JsonNode.Parse(await server.Http.GetStringAsync("status"))!;
        using var completion = await server.Http.PostAsJsonAsync("v1/completions", new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = 8, temperature = 0 });
        var demoFile = Path.Combine(server.Cache, "builtin", ServerFixture.ModelFile);

        Assert.Equal([ServerFixture.ModelId], models);
        Assert.True((bool)status["demo_model"]!);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(TestFixtures.Model(ServerFixture.ModelFile))), SHA256.HashData(File.ReadAllBytes(demoFile)));
    }

    [Fact]
    public async Task With_no_demo_model_the_server_exits_with_code_2()
    {
        var cache = Directory.CreateTempSubdirectory("demo-cache-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "--no-demo-model", "--model-cache", cache, "--port", "0", "-t", "1" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["HF_ENDPOINT"] = DemoServerFixture.UnreachableHub;
        start.Environment["HF_TOKEN"] = "";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        var demoWritten = Directory.Exists(Path.Combine(cache, "builtin"));
        Directory.Delete(cache, recursive: true);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("127.0.0.1 is unreachable", await output + await errors);
        Assert.False(demoWritten);
    }
}
