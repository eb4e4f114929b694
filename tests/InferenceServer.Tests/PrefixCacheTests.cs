using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>Prompt-prefix reuse on the real model, seen through the API.</summary>
[Collection(ServerCollection.Name)]
public class PrefixCacheTests(ServerFixture server)
{
    private const string Story = "Once upon a time there was a little girl named Lily. She lived in a small house with her mom and dad. " +
                                 "Every day she played in the garden with her dog Max. One day she found a big red ball under a tree.";

    private async Task<(string Text, int Cached, int Prompt)> Complete(string prompt, string salt, int maxTokens = 24)
    {
        using var response = await server.Http.PostAsJsonAsync("v1/completions",
            new { model = ServerFixture.ModelId, prompt, max_tokens = maxTokens, temperature = 0, cache_salt = salt });
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, json.ToJsonString());
        return ((string)json["choices"]![0]!["text"]!, (int)json["usage"]!["prompt_tokens_details"]!["cached_tokens"]!, (int)json["usage"]!["prompt_tokens"]!);
    }

    [Fact]
    public async Task A_multi_turn_chat_reuses_more_of_its_history_every_turn()
    {
        var chat = server.OpenAI().GetChatClient(ServerFixture.ModelId);
        var history = new List<ChatMessage> { new SystemChatMessage(Story) };
        var cached = new List<int>();
        string[] questions = ["What did Lily find?", "Where was the ball?", "Who is Max?", "What did they do next?", "How did the day end?"];
        foreach (var question in questions)
        {
            history.Add(new UserChatMessage(question));
            ChatCompletion answer = await chat.CompleteChatAsync(history, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
            cached.Add(answer.Usage.InputTokenDetails.CachedTokenCount);
            history.Add(new AssistantChatMessage(answer.Content[0].Text));
        }

        for (var turn = 1; turn < cached.Count; turn++)
            Assert.True(cached[turn] > cached[turn - 1], $"cached tokens by turn: {string.Join(", ", cached)}");
    }

    [Fact]
    public async Task Greedy_output_with_a_cache_hit_matches_the_cold_output()
    {
        string[] endings = ["The ball was", "Lily said", "Max ran to", "Her mom", "They all", "The tree", "Lily and Max", "At night"];
        foreach (var ending in endings)
        {
            var prompt = $"{Story} {ending}";
            var salt = Guid.NewGuid().ToString();
            var cold = await Complete(prompt, salt);
            var warm = await Complete(prompt, salt);

            Assert.Equal(0, cold.Cached);
            Assert.Equal(warm.Prompt - 1, warm.Cached);
            Assert.Equal(cold.Text, warm.Text);
        }
    }

    [Fact]
    public async Task Prompts_sharing_a_prefix_reuse_it_and_other_salts_do_not()
    {
        var salt = Guid.NewGuid().ToString();
        var first = await Complete($"{Story} The ball was", salt);
        var sibling = await Complete($"{Story} Max ran to", salt);
        var stranger = await Complete($"{Story} Max ran to", Guid.NewGuid().ToString());

        Assert.True(sibling.Cached >= first.Prompt - 4, $"sibling reused {sibling.Cached} of {sibling.Prompt}");
        Assert.Equal(0, stranger.Cached);
    }

    [Fact]
    public async Task Eight_concurrent_requests_with_one_system_prompt_compute_it_once()
    {
        var salt = Guid.NewGuid().ToString();
        var before = server.Model.Engine.Snapshot.PrefixCache;
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Complete($"{Story} Then friend number {i} came", salt, 16)));
        var after = server.Model.Engine.Snapshot.PrefixCache;

        var prefix = results.Min(r => r.Prompt) - 6;
        Assert.Equal(7, results.Count(r => r.Cached >= prefix));
        // Prompt tokens decoded: the shared prefix once, plus each request's own few last tokens.
        var computed = (after.QueriedTokens - before.QueriedTokens) - (after.HitTokens - before.HitTokens);
        Assert.True(computed < prefix + 8 * 8, $"{computed} prompt tokens were computed for a {prefix}-token shared prefix");
    }
}
