using System.ClientModel;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace InferenceServer.Tests;

/// <summary>
/// The real server (Kestrel on 127.0.0.1, a real model) started once for a test collection. A subclass with
/// other <see cref="ExtraArgs"/> or services (<see cref="Configure"/>) is a separate server instance.
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    public const string ModelFile = "TinyStories-656K-Q8_0.gguf";
    public const string ModelId = "TinyStories-656K-Q8_0";

    private WebApplication? _app;

    public Uri BaseUrl { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public WebApplication App => _app!;

    /// <summary>Flags beyond the defaults (later flags win), for fixtures that serve in another mode.</summary>
    protected virtual string[] ExtraArgs => [];

    /// <summary>
    /// The server's flags. One thread: llama.cpp's spinning thread barrier slows to a crawl when other test
    /// assemblies compete for the two cores, and a single thread makes steady progress at its share of the CPU.
    /// </summary>
    protected virtual string[] Args => ["-m", TestFixtures.Model(ModelFile), "--port", "0", "-np", "16", "-c", "8192", "-t", "1", .. ExtraArgs];

    /// <summary>Adds or replaces services before the server is built.</summary>
    protected virtual void Configure(WebApplicationBuilder builder)
    {
    }

    public OpenAIClient OpenAI(int maxRetries = 0, string apiKey = "no-key-needed") => new(new ApiKeyCredential(apiKey), OpenAIOptions(maxRetries));

    public OpenAIClientOptions OpenAIOptions(int maxRetries = 0) => new()
    {
        Endpoint = new Uri(BaseUrl, "v1"),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries),
        NetworkTimeout = TimeSpan.FromMinutes(2),
        // Every response the SDK reads is validated against OpenAI's published schemas.
        Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(new HttpClient(new OpenAiSchemaCheck()) { Timeout = Timeout.InfiniteTimeSpan }),
    };

    public async Task InitializeAsync()
    {
        _app = ServerApp.Build(Args, Configure);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
        Http = new HttpClient(new OpenAiSchemaCheck()) { BaseAddress = BaseUrl, Timeout = TimeSpan.FromMinutes(2) };

        var deadline = DateTime.UtcNow.AddMinutes(1);
        while ((await Http.GetAsync("health")).StatusCode != System.Net.HttpStatusCode.OK)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The model did not load within a minute.");
            await Task.Delay(50);
        }
    }

    internal ModelRegistry Models => _app!.Services.GetRequiredService<ModelRegistry>();

    /// <summary>The first configured model, loaded.</summary>
    public ServedModel Model => Models.Loaded(Models.Specs[0].Id)!;

    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
