using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Tests.ModelDownload;

/// <summary>The server started with -m hf://... downloads from the hub (here the stand-in via HF_ENDPOINT) and serves the model.</summary>
public sealed class DownloadedModelServerTests
{
    [Fact]
    public async Task A_server_given_a_hub_model_downloads_it_and_serves_a_completion()
    {
        await using var hub = await HubStandIn.StartAsync();
        hub.Add("test-owner/tiny-GGUF", ServerFixture.ModelFile, await File.ReadAllBytesAsync(TestFixtures.Model(ServerFixture.ModelFile)));
        var cache = Directory.CreateTempSubdirectory("hub-cache-").FullName;
        try
        {
            await using var app = ServerApp.Build(["-m", $"hf://test-owner/tiny-GGUF/{ServerFixture.ModelFile}", "--model-cache", cache, "--port", "0", "-np", "2", "-t", "2"],
                builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint.ToString(), ["HF_TOKEN"] = "" }));
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(1) };

            var deadline = DateTime.UtcNow.AddMinutes(1);
            while ((await http.GetAsync("health")).StatusCode != System.Net.HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, "the downloaded model did not load within a minute");
                await Task.Delay(50);
            }
            var response = await http.PostAsJsonAsync("v1/completions", new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = 8, temperature = 0 });
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();

            Assert.True(response.IsSuccessStatusCode, body.ToString());
            Assert.NotEmpty(body.GetProperty("choices")[0].GetProperty("text").GetString()!);
            Assert.True(File.Exists(Path.Combine(cache, "test-owner", "tiny-GGUF", ServerFixture.ModelFile)));
            Assert.Equal(1, hub.BodyDownloads);
            await app.StopAsync();
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
