using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>What continuous batching must not change: greedy outputs, and freeing what clients abandon.</summary>
[Collection(ServerCollection.Name)]
public class BatchingTests(ServerFixture server)
{
    internal static readonly string[] Names = ["Lily", "Tom", "Sue", "Max", "Ben", "Mia", "Sam", "Amy", "Tim", "Zoe", "Jack", "Anna", "Bob", "Kate", "Leo", "Lucy"];

    private Task<string> Complete(string prompt, int maxTokens) => Greedy.Complete(server, prompt, maxTokens);

    [Fact]
    public async Task A_hundred_streams_abandoned_at_random_points_free_every_sequence_and_kv_cell_and_the_server_still_answers()
    {
        // A client that goes away closes its connection; HttpClient would otherwise drain the rest of the stream.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromMinutes(5) };
        await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            using var cancel = new CancellationTokenSource();
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = JsonContent.Create(new { model = ServerFixture.ModelId, prompt = $"Tom and {Names[i % 16]} played", max_tokens = 400, stream = true }),
            };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            var buffer = new byte[64];
            // 0 = gone as soon as the headers arrive; otherwise after up to 40 reads, mid-stream.
            var toRead = new Random(i).Next(0, 40);
            for (var read = 0; read < toRead; read++)
                if (await stream.ReadAsync(buffer, cancel.Token) == 0) break;
            cancel.Cancel();
        }));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (server.Model.Engine.Snapshot is not { Running: 0, Waiting: 0, ReservedCells: 0 })
        {
            Assert.True(DateTime.UtcNow < deadline, $"sequences still held: {server.Model.Engine.Snapshot}");
            await Task.Delay(20);
        }
        Assert.False(string.IsNullOrEmpty(await Complete("The cat", 5)));
    }
}

internal static class Greedy
{
    public static async Task<string> Complete(ServerFixture server, string prompt, int maxTokens)
    {
        using var response = await server.Http.PostAsJsonAsync("v1/completions",
            new { model = ServerFixture.ModelId, prompt, max_tokens = maxTokens, temperature = 0 });
        response.EnsureSuccessStatusCode();
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
    }
}

/// <summary>
/// Every sequence has its own KV stream and prompts are computed in chunks below 64 tokens, so a request's
/// output (greedy, or sampled with its seed) must be the same alone and among fifteen others, and from the
/// prefix cache (see docs/determinism.md; ExactnessTests compares with cold answers on both test models).
/// </summary>
[Collection(ServerCollection.Name)]
public class ExactBatchingTests(ServerFixture server)
{
    [Fact]
    public async Task Seeded_choices_differ_from_each_other_and_reproduce()
    {
        async Task<List<string>> Choices()
        {
            using var response = await server.Http.PostAsJsonAsync("v1/chat/completions", new
            {
                model = ServerFixture.ModelId, messages = new[] { new { role = "user", content = "Tell me a story about a big red ball in the park with Tim." } },
                n = 4, temperature = 1.0, seed = 7, max_tokens = 24,
            });
            response.EnsureSuccessStatusCode();
            var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            return body["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!).ToList();
        }

        var first = await Choices();
        Assert.True(first.Distinct().Count() > 1, string.Join(" | ", first));
        Assert.Equal(first, await Choices());
    }

    /// <summary>Greedy, and sampled with a seed per request: each request has its own sampler and random stream.</summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public async Task Output_is_the_same_alone_and_among_fifteen_other_requests(double temperature)
    {
        var prompts = BatchingTests.Names.Select((name, i) => $"Once upon a time, {name} went to the {(i % 2 == 0 ? "park" : "shop")} with {i + 1} friends.").ToArray();
        async Task<string> Complete(int i)
        {
            using var response = await server.Http.PostAsJsonAsync("v1/completions",
                new { model = ServerFixture.ModelId, prompt = prompts[i], max_tokens = 48, temperature, seed = i });
            response.EnsureSuccessStatusCode();
            return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
        }

        var alone = new List<string>();
        for (var i = 0; i < prompts.Length; i++) alone.Add(await Complete(i));

        // Staggered starts, so prompts are prefilled while other sequences are generating.
        var together = await Task.WhenAll(prompts.Select(async (_, i) =>
        {
            await Task.Delay(i * 15);
            return await Complete(i);
        }));

        var differing = Enumerable.Range(0, prompts.Length).Where(i => alone[i] != together[i]).ToList();
        Assert.True(differing.Count == 0,
            $"{differing.Count} of {prompts.Length} outputs changed under batching: " +
            string.Join(" | ", differing.Select(i => $"alone '{alone[i]}' vs batched '{together[i]}'")));
    }

    [Fact]
    public async Task A_prompt_answered_from_the_prefix_cache_gives_the_same_text()
    {
        var hitsBefore = server.Model.Engine.Snapshot.PrefixCache.HitTokens;
        var cold = await Greedy.Complete(server, "The little dog ran home to his mom and", 24);
        var warm = await Greedy.Complete(server, "The little dog ran home to his mom and", 24);
        Assert.Equal(cold, warm);
        Assert.True(server.Model.Engine.Snapshot.PrefixCache.HitTokens > hitsBefore);
    }
}
