using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine;
using InferenceServer.Tests.ModelDownload;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace InferenceServer.Tests;

/// <summary>Two models loaded at start, each with its own id, context and parallel setting.</summary>
public sealed class TwoModelServerFixture : ServerFixture
{
    public const string Tiny = "tiny";
    public const string Small = "small";

    protected override string[] Args =>
    [
        "-m", $"{Tiny}={TestFixtures.Model(ModelFile)},ctx=2048,parallel=4",
        "-m", $"{Small}={TestFixtures.Model("stories260K.gguf")},ctx=1024,parallel=2",
        "--port", "0", "-t", "1",
    ];
}

[CollectionDefinition(Name)]
public sealed class TwoModelServerCollection : ICollectionFixture<TwoModelServerFixture>
{
    public const string Name = "two-model server";
}

[Collection(TwoModelServerCollection.Name)]
public class TwoModelTests(TwoModelServerFixture server)
{
    [Fact]
    public async Task Both_models_answer_concurrently_each_under_its_own_id_with_its_own_context()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Chat(i % 2 == 0 ? TwoModelServerFixture.Tiny : TwoModelServerFixture.Small)));

        foreach (var (model, text) in answers) Assert.NotEmpty(text);
        Assert.Equal(3, answers.Count(a => a.Model == TwoModelServerFixture.Tiny));
        Assert.Equal(3, answers.Count(a => a.Model == TwoModelServerFixture.Small));
        Assert.Equal((2048, 4), (server.Models.Loaded(TwoModelServerFixture.Tiny)!.Engine.Limits.ContextCells, server.Models.Loaded(TwoModelServerFixture.Tiny)!.Engine.Limits.MaxSequences));
        Assert.Equal((1024, 2), (server.Models.Loaded(TwoModelServerFixture.Small)!.Engine.Limits.ContextCells, server.Models.Loaded(TwoModelServerFixture.Small)!.Engine.Limits.MaxSequences));
    }

    private async Task<(string Model, string Text)> Chat(string model)
    {
        var completion = (await server.OpenAI().GetChatClient(model).CompleteChatAsync(
            [new OpenAI.Chat.UserChatMessage("Tell me a story.")], new OpenAI.Chat.ChatCompletionOptions { MaxOutputTokenCount = 16 })).Value;
        return (completion.Model, completion.Content[0].Text);
    }

    [Fact]
    public async Task Each_model_tokenizes_with_its_own_vocabulary()
    {
        // stories260K has 512 tokens, TinyStories-656K 2048: token 1000 exists only in the latter.
        using var tiny = await server.Http.PostAsJsonAsync("detokenize", new { model = TwoModelServerFixture.Tiny, tokens = new[] { 1000 } });
        using var small = await server.Http.PostAsJsonAsync("detokenize", new { model = TwoModelServerFixture.Small, tokens = new[] { 1000 } });
        Assert.Equal(HttpStatusCode.OK, tiny.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, small.StatusCode);
    }

    [Fact]
    public async Task Models_lists_every_configured_model_and_an_unknown_one_is_404_model_not_found()
    {
        var models = server.OpenAI().GetOpenAIModelClient();
        Assert.Equal([TwoModelServerFixture.Tiny, TwoModelServerFixture.Small], (await models.GetModelsAsync()).Value.Select(m => m.Id));
        Assert.Equal(TwoModelServerFixture.Small, (await models.GetModelAsync(TwoModelServerFixture.Small)).Value.Id);

        var missing = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.OpenAI().GetChatClient("llama-9000").CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Hi")]));
        Assert.Equal(404, missing.Status);
        using var raw = await server.Http.PostAsJsonAsync("v1/completions", new { model = "llama-9000", prompt = "Once" });
        Assert.Equal(HttpStatusCode.NotFound, raw.StatusCode);
        Assert.Equal("model_not_found", (string)JsonNode.Parse(await raw.Content.ReadAsStringAsync())!["error"]!["code"]!);
    }

    [Fact]
    public async Task Engine_gauges_carry_one_series_per_model()
    {
        var cells = (await server.Http.GetStringAsync("metrics")).Split('\n').Where(line => line.StartsWith("inferenceserver_kv_cells_total{", StringComparison.Ordinal)).ToList();
        Assert.Contains(cells, line => line.Contains("model=\"tiny\"") && line.EndsWith(" 2048"));
        Assert.Contains(cells, line => line.Contains("model=\"small\"") && line.EndsWith(" 1024"));
    }
}

/// <summary>
/// A model loaded at start and one loaded on demand with a keep_alive of one second of <see cref="Clock"/>; an <see cref="EngineGate"/>
/// holds requests in flight.
/// </summary>
public sealed class OnDemandServerFixture : ServerFixture
{
    public const string Lazy = "lazy";
    public EngineGate Gate { get; } = new();

    /// <summary>The registry's clock: keep_alive passes when a test moves it, not while it waits.</summary>
    public FakeTimeProvider Clock { get; } = new();

    protected override string[] Args =>
    [
        "-m", TestFixtures.Model(ModelFile),
        "-m", $"{Lazy}={TestFixtures.Model("stories260K.gguf")},ctx=1024,parallel=2,on_demand,keep_alive=1s",
        "--port", "0", "-t", "1",
    ];

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IEngineObserver>(Gate);
        builder.Services.AddSingleton<TimeProvider>(Clock);
    }
}

[CollectionDefinition(Name)]
public sealed class OnDemandServerCollection : ICollectionFixture<OnDemandServerFixture>
{
    public const string Name = "on-demand server";
}

[Collection(OnDemandServerCollection.Name)]
public class OnDemandModelTests(OnDemandServerFixture server)
{
    private static object Completion(string model) => new { model, prompt = "Once upon a time", max_tokens = 4 };

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Moves the clock past keep_alive and sweeps until the lazy model is unloaded (its last lease may end just after the response).</summary>
    private Task UnloadedAfterKeepAlive(string what) => WaitUntil(() =>
    {
        server.Clock.Advance(TimeSpan.FromSeconds(2));
        server.Models.UnloadIdle();
        return server.Models.Loaded(OnDemandServerFixture.Lazy) is null;
    }, what);

    [Fact]
    public async Task An_on_demand_model_loads_for_waiting_requests_unloads_after_keep_alive_and_reloads()
    {
        await UnloadedAfterKeepAlive("the lazy model is not loaded");
        Assert.Contains(OnDemandServerFixture.Lazy, await server.Http.GetStringAsync("v1/models"));

        // Every request that arrives while the model loads waits for the one load and then gets its answer.
        var first = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => server.Http.PostAsJsonAsync("v1/completions", Completion(OnDemandServerFixture.Lazy))));
        Assert.All(first, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(OnDemandServerFixture.Lazy, (string)JsonNode.Parse(await first[0].Content.ReadAsStringAsync())!["model"]!);

        await UnloadedAfterKeepAlive("keep_alive unloads the idle model");
        using var again = await server.Http.PostAsJsonAsync("v1/completions", Completion(OnDemandServerFixture.Lazy));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        // The model that loads at start has no keep_alive: it stays.
        Assert.NotNull(server.Models.Loaded(ServerFixture.ModelId));
    }

    [Fact]
    public async Task An_adapter_loaded_at_run_time_comes_back_with_its_model_after_an_unload_unless_deleted()
    {
        var adapter = TestAdapters.Write("lazy-adapter", 5, "stories260K.gguf");
        using (var load = await server.Http.PostAsJsonAsync("v1/adapters", new { model = OnDemandServerFixture.Lazy, name = "story", path = adapter }))
            Assert.Equal(HttpStatusCode.Created, load.StatusCode);
        var withAdapter = Completion($"{OnDemandServerFixture.Lazy}:story");

        await UnloadedAfterKeepAlive("keep_alive unloads the idle model");
        using (var reloaded = await server.Http.PostAsJsonAsync("v1/completions", withAdapter))
            Assert.Equal(HttpStatusCode.OK, reloaded.StatusCode);

        await UnloadedAfterKeepAlive("keep_alive unloads the idle model again");
        using (var delete = await server.Http.DeleteAsync($"v1/adapters/{OnDemandServerFixture.Lazy}:story"))
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        using var gone = await server.Http.PostAsJsonAsync("v1/completions", withAdapter);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task A_model_with_a_request_in_flight_is_not_unloaded_past_its_keep_alive()
    {
        server.Gate.Close();
        Task<HttpResponseMessage> inFlight;
        try
        {
            inFlight = server.Http.PostAsJsonAsync("v1/completions", Completion(OnDemandServerFixture.Lazy));
            await WaitUntil(() => server.Models.Loaded(OnDemandServerFixture.Lazy)?.Engine.Snapshot.Running == 1, "the request runs");
            server.Clock.Advance(TimeSpan.FromSeconds(2.5));
            server.Models.UnloadIdle();
            Assert.NotNull(server.Models.Loaded(OnDemandServerFixture.Lazy));
        }
        finally
        {
            server.Gate.Open();
        }
        using var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await UnloadedAfterKeepAlive("the model unloads once idle");
    }
}

/// <summary>Two on-demand models and a memory budget that holds either but not both.</summary>
public sealed class BudgetServerFixture : ServerFixture
{
    public const string Tiny = "tiny";
    public const string Small = "small";

    // Estimates (file + F16 KV of 1024 cells): TinyStories-656K about 1.2 MiB, stories260K about 1.8 MiB.
    protected override string[] Args =>
    [
        "-m", $"{Tiny}={TestFixtures.Model(ModelFile)},ctx=1024,parallel=2,on_demand,keep_alive=1h",
        "-m", $"{Small}={TestFixtures.Model("stories260K.gguf")},ctx=1024,parallel=2,on_demand,keep_alive=1h",
        "--models-memory-budget", "2.5M", "--port", "0", "-t", "1",
    ];
}

[CollectionDefinition(Name)]
public sealed class BudgetServerCollection : ICollectionFixture<BudgetServerFixture>
{
    public const string Name = "memory-budget server";
}

[Collection(BudgetServerCollection.Name)]
public class MemoryBudgetTests(BudgetServerFixture server)
{
    private async Task<HttpResponseMessage> Complete(string model) =>
        await server.Http.PostAsJsonAsync("v1/completions", new { model, prompt = "Once upon a time", max_tokens = 4 });

    [Fact]
    public async Task Loading_a_model_unloads_the_least_recently_used_idle_one_and_a_busy_one_is_never_evicted()
    {
        using (var tiny = await Complete(BudgetServerFixture.Tiny)) Assert.Equal(HttpStatusCode.OK, tiny.StatusCode);
        Assert.NotNull(server.Models.Loaded(BudgetServerFixture.Tiny));

        using (var small = await Complete(BudgetServerFixture.Small)) Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Null(server.Models.Loaded(BudgetServerFixture.Tiny));
        Assert.NotNull(server.Models.Loaded(BudgetServerFixture.Small));

        // A request in flight holds its model (a lease, as each HTTP request takes): the other cannot load.
        using (await server.Models.AcquireAsync(BudgetServerFixture.Small, CancellationToken.None))
        {
            using var refused = await Complete(BudgetServerFixture.Tiny);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal("model_unavailable", (string)error["code"]!);
            Assert.Contains("--models-memory-budget", (string)error["message"]!);
        }

        using (var tiny = await Complete(BudgetServerFixture.Tiny)) Assert.Equal(HttpStatusCode.OK, tiny.StatusCode);
        Assert.Null(server.Models.Loaded(BudgetServerFixture.Small));
    }
}

/// <summary>A request waits for its model's load only so long (--model-load-wait, on the server's clock), then gets 503 with Retry-After while the load goes on.</summary>
public sealed class ModelLoadWaitTests
{
    [Fact]
    public async Task A_request_for_a_model_still_loading_gets_503_model_loading_after_the_wait_and_the_load_completes()
    {
        await using var hub = await HubStandIn.StartAsync();
        hub.Add("test-owner/tiny-GGUF", ServerFixture.ModelFile, await File.ReadAllBytesAsync(TestFixtures.Model(ServerFixture.ModelFile)));
        var download = new TaskCompletionSource();
        hub.HoldBodies = download.Task;
        var clock = new FakeTimeProvider();
        var cache = Directory.CreateTempSubdirectory("hub-cache-").FullName;
        try
        {
            await using var app = ServerApp.Build(
                ["-m", $"local={TestFixtures.Model("stories260K.gguf")}", "-m", $"hub=hf://test-owner/tiny-GGUF/{ServerFixture.ModelFile},on_demand",
                    "--model-load-wait", "1", "--model-cache", cache, "--port", "0", "-np", "2", "-t", "1"],
                builder =>
                {
                    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.Endpoint.ToString(), ["HF_TOKEN"] = "" });
                    builder.Services.AddSingleton<TimeProvider>(clock);
                });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(1) };
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while ((await http.GetAsync("health")).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, "the model loaded at start did not load within a minute");
                await Task.Delay(50);
            }
            var body = new { model = "hub", prompt = "Once upon a time", max_tokens = 4 };

            // The download holds the load; the request's wait ends once the server's clock has passed --model-load-wait.
            var waiting = http.PostAsJsonAsync("v1/completions", body);
            while (!waiting.IsCompleted)
            {
                Assert.True(DateTime.UtcNow < deadline, "the request for the loading model was not answered within a minute");
                clock.Advance(TimeSpan.FromSeconds(1));
                await Task.WhenAny(waiting, Task.Delay(20));
            }
            using (var waited = await waiting)
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, waited.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(5), waited.Headers.RetryAfter!.Delta);
                Assert.Equal("model_loading", (string)JsonNode.Parse(await waited.Content.ReadAsStringAsync())!["error"]!["code"]!);
            }

            download.SetResult();
            HttpResponseMessage served;
            while ((served = await http.PostAsJsonAsync("v1/completions", body)).StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.True(DateTime.UtcNow < deadline, "the on-demand model did not load within a minute");
                served.Dispose();
            }
            using (served) Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal(1, hub.BodyDownloads);
            await app.StopAsync();
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
