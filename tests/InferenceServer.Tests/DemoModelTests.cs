using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Tests;

/// <summary>With no -m and no reachable hub (HF_ENDPOINT on a closed port) the server serves its built-in demo model.</summary>
public sealed class DemoModelTests : IDisposable
{
    private const string UnreachableHub = "http://127.0.0.1:1/";
    private readonly string _cache = Directory.CreateTempSubdirectory("demo-cache-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [Fact]
    public async Task Offline_with_no_model_the_server_serves_the_demo_model_and_says_so()
    {
        await using var app = ServerApp.Build(["--model-cache", _cache, "--port", "0", "-np", "2", "-t", "1"],
            builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["HF_ENDPOINT"] = UnreachableHub, ["HF_TOKEN"] = "" }));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(1) };
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while ((await http.GetAsync("health")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "the demo model did not load within a minute");
            await Task.Delay(50);
        }

        var models = JsonNode.Parse(await http.GetStringAsync("v1/models"))!["data"]!.AsArray().Select(m => (string)m!["id"]!);
        var status = JsonNode.Parse(await http.GetStringAsync("status"))!;
        var completion = await http.PostAsJsonAsync("v1/completions", new { model = "TinyStories-656K-Q8_0", prompt = "Once upon a time", max_tokens = 8, temperature = 0 });
        var demoFile = Path.Combine(_cache, "builtin", "TinyStories-656K-Q8_0.gguf");

        Assert.Equal(["TinyStories-656K-Q8_0"], models);
        Assert.True((bool)status["demo_model"]!);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(TestFixtures.Model(ServerFixture.ModelFile))), SHA256.HashData(File.ReadAllBytes(demoFile)));
        await app.StopAsync();
    }

    [Fact]
    public async Task With_no_demo_model_the_server_exits_with_code_2()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "--no-demo-model", "--model-cache", _cache, "--port", "0", "-t", "1" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["HF_ENDPOINT"] = UnreachableHub;
        start.Environment["HF_TOKEN"] = "";
        using var server = Process.Start(start)!;
        var output = server.StandardOutput.ReadToEndAsync();
        var errors = server.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await server.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, server.ExitCode);
        Assert.Contains("127.0.0.1 is unreachable", await output + await errors);
        Assert.False(Directory.Exists(Path.Combine(_cache, "builtin")));
    }
}
