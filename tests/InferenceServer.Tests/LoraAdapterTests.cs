using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InferenceServer.SyntheticModels.Llama;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>LoRA adapters written for the test model at test time (never committed): random A and B matrices.</summary>
public static class TestAdapters
{
    private static readonly string Folder = Directory.CreateTempSubdirectory("lora-tests-").FullName;

    /// <summary>Writes an adapter (of TinyStories unless another model file is given) strong enough that the greedy output changes within a few tokens.</summary>
    public static string Write(string name, ulong seed, string modelFile = ServerFixture.ModelFile)
    {
        var path = Path.Combine(Folder, $"{name}.gguf");
        if (!File.Exists(path))
            LoraAdapterWriter.Write(path, TestFixtures.Model(modelFile),
                new LoraAdapterOptions(Rank: 8, Alpha: 16, ["attn_q", "attn_v", "ffn_up"], seed, Std: 0.1f));
        return path;
    }
}

/// <summary>The server started with two adapters: "sql" (default scale 1) and "tone" (default scale 0.5).</summary>
public class LoraServerFixture : ServerFixture
{
    public const string Sql = ModelId + ":sql";
    public const string Tone = ModelId + ":tone";

    protected override string[] ExtraArgs => ["--lora", $"sql={TestAdapters.Write("sql", 1)}", "--lora", $"tone={TestAdapters.Write("tone", 2)}:0.5"];
}

[CollectionDefinition(Name)]
public sealed class LoraServerCollection : ICollectionFixture<LoraServerFixture>
{
    public const string Name = "lora server";
}

internal static class LoraRequests
{
    public static ChatCompletionOptions Greedy(int maxTokens = 32, string? adaptersJson = null, string? cacheSalt = null)
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = maxTokens };
#pragma warning disable SCME0001 // JsonPatch: how the SDK sends extension fields
        if (adaptersJson is not null) options.Patch.Set("$.adapters"u8, BinaryData.FromString(adaptersJson));
        if (cacheSalt is not null) options.Patch.Set("$.cache_salt"u8, cacheSalt);
#pragma warning restore SCME0001
        return options;
    }

    public static async Task<ChatCompletion> Chat(ServerFixture server, string model, string prompt, ChatCompletionOptions options) =>
        await server.OpenAI().GetChatClient(model).CompleteChatAsync([new UserChatMessage(prompt)], options);

    public static async Task<string> Text(ServerFixture server, string model, string prompt, string? adaptersJson = null) =>
        (await Chat(server, model, prompt, Greedy(adaptersJson: adaptersJson))).Content[0].Text;
}

[Collection(LoraServerCollection.Name)]
public class LoraAdapterTests(LoraServerFixture server)
{
    private const string Prompt = "Tell me a story about a dog.";

    private Task<string> Text(string model, string? adaptersJson = null) => LoraRequests.Text(server, model, Prompt, adaptersJson);

    [Fact]
    public async Task An_adapter_changes_the_greedy_output_and_at_scale_zero_gives_the_base_output()
    {
        var plain = await Text(ServerFixture.ModelId);
        var sql = await Text(LoraServerFixture.Sql);

        Assert.NotEqual(plain, sql);
        Assert.Equal(sql, await Text(ServerFixture.ModelId, """[{"name": "sql", "scale": 1.0}]"""));
        Assert.Equal(plain, await Text(ServerFixture.ModelId, """[{"name": "sql", "scale": 0}]"""));
        Assert.Equal(sql, await Text(LoraServerFixture.Sql, """[]"""));
        // Stacked: both adapters at once differ from each alone.
        var stacked = await Text(LoraServerFixture.Sql, """[{"name": "tone", "scale": 1.5}]""");
        Assert.NotEqual(sql, stacked);
        Assert.NotEqual(await Text(ServerFixture.ModelId, """[{"name": "tone", "scale": 1.5}]"""), stacked);
    }

    [Fact]
    public async Task The_response_names_the_adapter_model_and_the_models_list_shows_each_adapter_with_its_parent()
    {
        ChatCompletion completion = await LoraRequests.Chat(server, LoraServerFixture.Sql, Prompt, LoraRequests.Greedy(4));
        Assert.Equal(LoraServerFixture.Sql, completion.Model);

        var ids = (await server.OpenAI().GetOpenAIModelClient().GetModelsAsync()).Value.Select(m => m.Id).ToList();
        Assert.Equal([ServerFixture.ModelId, LoraServerFixture.Sql, LoraServerFixture.Tone], ids);
        var list = JsonNode.Parse(await server.Http.GetStringAsync("v1/models"))!["data"]!.AsArray();
        Assert.Equal([null, ServerFixture.ModelId, ServerFixture.ModelId], list.Select(m => (string?)m!["parent"]));
        var one = JsonNode.Parse(await server.Http.GetStringAsync($"v1/models/{LoraServerFixture.Tone}"))!;
        Assert.Equal(ServerFixture.ModelId, (string?)one["parent"]);
    }

    [Fact]
    public async Task A_prefix_cached_under_one_adapter_is_not_reused_under_another()
    {
        var prompt = "Once upon a time there was a cat named Tom who lived in a big red house near the woods.";
        // A salt of its own: no other test's requests (sharing the chat template's opening) are in this cache partition.
        var salt = Guid.NewGuid().ToString();
        async Task<int> Cached(string model, string? adapters = null) =>
            (await LoraRequests.Chat(server, model, prompt, LoraRequests.Greedy(8, adapters, salt))).Usage.InputTokenDetails.CachedTokenCount;

        Assert.Equal(0, await Cached(ServerFixture.ModelId));
        Assert.Equal(0, await Cached(LoraServerFixture.Sql));
        Assert.Equal(0, await Cached(ServerFixture.ModelId, """[{"name": "sql", "scale": 0.5}]"""));
        Assert.Equal(0, await Cached(LoraServerFixture.Tone));
        // The same adapter set again reuses its own prefix; scale 0 is the base set.
        Assert.True(await Cached(LoraServerFixture.Sql) > 0);
        Assert.True(await Cached(ServerFixture.ModelId, """[{"name": "tone", "scale": 0}]""") > 0);
    }

    [Theory]
    [InlineData(ServerFixture.ModelId + ":nope", null, 404, "model", "adapter_not_found")]
    [InlineData("nomodel:sql", null, 404, "model", "model_not_found")]
    [InlineData(ServerFixture.ModelId, """[{"name": "nope"}]""", 404, "adapters[0].name", "adapter_not_found")]
    [InlineData(ServerFixture.ModelId, """[{"name": "sql", "scale": 9}]""", 400, "adapters[0].scale", "invalid_value")]
    [InlineData(ServerFixture.ModelId, """[{"name": "sql"}, {"name": "tone", "scale": "big"}]""", 400, "adapters[1].scale", "invalid_type")]
    [InlineData(ServerFixture.ModelId, """[{"scale": 1}]""", 400, "adapters[0].name", "missing_required_parameter")]
    [InlineData(LoraServerFixture.Sql, """[{"name": "sql"}]""", 400, "adapters[0].name", "invalid_value")]
    [InlineData(ServerFixture.ModelId, """{"name": "sql"}""", 400, "adapters", "invalid_type")]
    public async Task A_bad_adapter_choice_is_an_OpenAI_error_naming_the_parameter(string model, string? adapters, int status, string param, string code)
    {
        var body = new JsonObject { ["model"] = model, ["prompt"] = "Once", ["max_tokens"] = 2 };
        if (adapters is not null) body["adapters"] = JsonNode.Parse(adapters);
        using var response = await server.Http.PostAsJsonAsync("v1/completions", body);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal((param, code), ((string?)error["param"], (string?)error["code"]));
    }

    [Fact]
    public async Task An_adapter_loaded_at_run_time_is_used_at_once_and_after_delete_is_a_404()
    {
        var plain = await Text(ServerFixture.ModelId);
        using var load = await server.Http.PostAsJsonAsync("v1/adapters",
            new { model = ServerFixture.ModelId, name = "late", path = TestAdapters.Write("late", 3), scale = 1.0 });
        Assert.Equal(HttpStatusCode.Created, load.StatusCode);
        Assert.Equal(ServerFixture.ModelId, (string?)JsonNode.Parse(await load.Content.ReadAsStringAsync())!["parent"]);

        var late = await Text(ServerFixture.ModelId + ":late");
        Assert.NotEqual(plain, late);
        using var again = await server.Http.PostAsJsonAsync("v1/adapters", new { model = ServerFixture.ModelId, name = "late", path = TestAdapters.Write("late", 3) });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        using var delete = await server.Http.DeleteAsync("v1/adapters/late");
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => Text(ServerFixture.ModelId + ":late"));
        Assert.Equal(404, gone.Status);
        using var deleteAgain = await server.Http.DeleteAsync("v1/adapters/late");
        Assert.Equal(HttpStatusCode.NotFound, deleteAgain.StatusCode);
        Assert.Equal(plain, await Text(ServerFixture.ModelId));
    }

    [Theory]
    [InlineData("stories260K.gguf", "cannot be used with this model")]   // a GGUF model, not an adapter of this one
    [InlineData("MODELS.md", "is not a GGUF file")]
    [InlineData("missing.gguf", "does not exist")]
    public async Task A_bad_adapter_file_loaded_at_run_time_is_a_400_and_the_server_keeps_serving(string file, string reason)
    {
        var path = Path.Combine(Path.GetDirectoryName(TestFixtures.Model(ServerFixture.ModelFile))!, file);
        using var response = await server.Http.PostAsJsonAsync("v1/adapters", new { model = ServerFixture.ModelId, name = "broken", path });
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(("path", "invalid_adapter_file"), ((string?)error["param"], (string?)error["code"]));
        Assert.Contains(reason, (string)error["message"]!);
        Assert.False(string.IsNullOrEmpty(await Text(ServerFixture.ModelId)));
    }

    [Fact]
    public async Task A_bad_adapter_file_at_start_up_stops_the_server_with_a_message()
    {
        var notAnAdapter = TestFixtures.Model("stories260K.gguf");
        var server = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile), "--port", "0", "-t", "1", "--lora", $"bad={notAnAdapter}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = server.StandardOutput.ReadToEndAsync();
        var errors = server.StandardError.ReadToEndAsync();
        await server.WaitForExitAsync();

        Assert.Equal(2, server.ExitCode);
        Assert.Contains($"LoRA adapter '{notAnAdapter}' cannot be used with this model", await output + await errors);
    }
}

[Collection(LoraServerCollection.Name)]
public class LoraConcurrencyTests(LoraServerFixture server)
{
    [Fact]
    public async Task Concurrent_requests_under_different_adapters_each_get_what_they_get_alone_and_scale_zero_is_the_base()
    {
        (string Model, string? Adapters)[] choices =
        [
            (ServerFixture.ModelId, null),
            (LoraServerFixture.Sql, null),
            (LoraServerFixture.Tone, null),
            (LoraServerFixture.Sql, """[{"name": "tone", "scale": 1.0}]"""),
            (ServerFixture.ModelId, """[{"name": "sql", "scale": 0}]"""),
        ];
        const int prompts = 6;
        var requests = choices.SelectMany(c => BatchingTests.Names[..prompts].Select(name => (c.Model, c.Adapters, Prompt: $"Tell me about {name}."))).ToList();
        var alone = new List<string>();
        foreach (var r in requests) alone.Add(await LoraRequests.Text(server, r.Model, r.Prompt, r.Adapters));

        var together = await Task.WhenAll(requests.Select(r => LoraRequests.Text(server, r.Model, r.Prompt, r.Adapters)));

        Assert.Equal(alone, together);
        // Scale 0 adds nothing: the base model's answer to every prompt.
        Assert.Equal(alone[..prompts], alone[^prompts..]);
        // The adapters matter: per prompt, the first four choices do not all agree.
        Assert.All(Enumerable.Range(0, prompts), p => Assert.True(Enumerable.Range(0, 4).Select(c => alone[c * prompts + p]).Distinct().Count() > 1));
    }
}

public class LoraSpecTests
{
    [Theory]
    [InlineData("sql=/p/sql.gguf", "sql", "/p/sql.gguf", 1f)]
    [InlineData("sql=/p/sql.gguf:0.8", "sql", "/p/sql.gguf", 0.8f)]
    [InlineData("tone.v2=/p/a:b.gguf", "tone.v2", "/p/a:b.gguf", 1f)]
    [InlineData("neg=/p/n.gguf:-1.5", "neg", "/p/n.gguf", -1.5f)]
    public void Parses_name_path_and_default_scale(string spec, string name, string path, float scale) =>
        Assert.Equal((name, path, scale), LoraSpec.Parse(spec));

    [Theory]
    [InlineData("/p/sql.gguf", "must be NAME=PATH")]
    [InlineData("sql=", "must be NAME=PATH")]
    [InlineData("a:b=/p/x.gguf", "not a valid adapter name")]
    [InlineData("sql=/p/x.gguf:9", "not a valid adapter scale")]
    public void Refuses_a_malformed_value_with_a_message(string spec, string reason) =>
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => LoraSpec.Parse(spec)).Message);
}
