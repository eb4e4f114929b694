using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>n choices per prompt, chat and legacy logprobs, echo and token-id prompts, on the real server.</summary>
[Collection(ServerCollection.Name)]
public class ChoicesAndLogprobsTests(ServerFixture server)
{
    private async Task<JsonNode> Post(string path, object body)
    {
        var json = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(body))!.AsObject();
        json["model"] = ServerFixture.ModelId;
        using var response = await server.Http.PostAsJsonAsync(path, json);
        var result = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, result.ToJsonString());
        return result;
    }

    private async Task<List<JsonNode>> PostStream(string path, object body)
    {
        var json = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(body))!.AsObject();
        json["model"] = ServerFixture.ModelId;
        json["stream"] = true;
        using var response = await server.Http.PostAsJsonAsync(path, json);
        response.EnsureSuccessStatusCode();
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        return events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
    }

    private static object[] Messages(string text) => [new { role = "user", content = text }];

    private static void AssertSortedAndFinite(IEnumerable<float> logprobs)
    {
        var list = logprobs.ToList();
        Assert.All(list, l => Assert.True(float.IsFinite(l) && l <= 0, $"{l}"));
        Assert.Equal(list.OrderByDescending(l => l), list);
    }

    [Fact]
    public async Task Chat_logprobs_through_the_sdk_cover_every_token_sorted_and_finite_streamed_or_not()
    {
        var chat = server.OpenAI().GetChatClient(ServerFixture.ModelId);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 10, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Tell me about a cat.")], options);

        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, tokens.Count);
        Assert.Equal(completion.Content[0].Text, string.Concat(tokens.Select(t => t.Token)));
        foreach (var token in tokens)
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            AssertSortedAndFinite(token.TopLogProbabilities.Select(t => t.LogProbability));
            // Greedy picks the most likely token of the raw distribution the logprobs describe.
            Assert.Equal(token.TopLogProbabilities[0].Token, token.Token);
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability, 5);
            Assert.Equal(Encoding.UTF8.GetBytes(token.Token), token.Utf8Bytes!.Value.ToArray());
        }

        var streamed = new List<ChatTokenLogProbabilityDetails>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me about a cat.")], options))
            streamed.AddRange(update.ContentTokenLogProbabilities);
        Assert.Equal(tokens.Select(t => (t.Token, t.LogProbability)), streamed.Select(t => (t.Token, t.LogProbability)));
    }

    [Fact]
    public async Task Without_logprobs_a_choice_has_logprobs_null()
    {
        var result = await Post("v1/chat/completions", new { messages = Messages("Hi"), max_tokens = 3 });
        Assert.True(result["choices"]![0]!.AsObject().ContainsKey("logprobs"));
        Assert.Null(result["choices"]![0]!["logprobs"]);
    }

    [Fact]
    public async Task N_choices_share_one_prefill_and_count_the_prompt_once()
    {
        // A prompt no other test sends, so nothing of it is cached yet.
        var prompt = $"Tell me a story about a {Guid.NewGuid():N} and a big red ball in the park with Tim.";
        var before = server.Model.Engine.Snapshot.PrefixCache;
        var first = await Post("v1/chat/completions", new { messages = Messages(prompt), n = 4, temperature = 1.0, seed = 7, max_tokens = 24 });
        var after = server.Model.Engine.Snapshot.PrefixCache;

        var choices = first["choices"]!.AsArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => (int)c!["index"]!));
        var texts = choices.Select(c => (string)c!["message"]!["content"]!).ToList();
        Assert.True(texts.Distinct().Count() > 1, string.Join(" | ", texts));

        var single = await Post("v1/chat/completions", new { messages = Messages(prompt), max_tokens = 1 });
        var promptTokens = (int)single["usage"]!["prompt_tokens"]!;
        Assert.Equal(promptTokens, (int)first["usage"]!["prompt_tokens"]!);
        Assert.Equal((int)first["usage"]!["completion_tokens"]!, (int)first["usage"]!["total_tokens"]! - promptTokens);
        // Computed prompt tokens: the uncached part of the prompt once, plus each other choice's own last token.
        var cachedBefore = (int)first["usage"]!["prompt_tokens_details"]!["cached_tokens"]!;
        var computed = (after.QueriedTokens - before.QueriedTokens) - (after.HitTokens - before.HitTokens);
        Assert.True(promptTokens - cachedBefore > 20, $"{cachedBefore} of {promptTokens} were cached already");
        Assert.Equal(promptTokens - cachedBefore + 3, computed);
        // Exact by default: the same seed gives the same choices again, now computed from the cache.
        var again = await Post("v1/chat/completions", new { messages = Messages(prompt), n = 4, temperature = 1.0, seed = 7, max_tokens = 24 });
        Assert.Equal(texts, again["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!));
    }

    [Fact]
    public async Task Streamed_choices_carry_their_index_each_finishes_and_usage_comes_once()
    {
        var chunks = await PostStream("v1/chat/completions", new
        {
            messages = Messages("Tell me a story."), n = 3, temperature = 1.0, seed = 3, max_tokens = 12, stream_options = new { include_usage = true },
        });

        var byIndex = chunks.Where(c => c["choices"]!.AsArray().Count > 0).GroupBy(c => (int)c["choices"]![0]!["index"]!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal([0, 1, 2], byIndex.Keys.Order());
        foreach (var (_, list) in byIndex)
        {
            Assert.Equal("assistant", (string?)list[0]["choices"]![0]!["delta"]!["role"]);
            Assert.Single(list, c => c["choices"]![0]!["finish_reason"] is not null);
        }
        var usage = Assert.Single(chunks, c => c["usage"] is not null)["usage"]!;
        Assert.Equal(36, (int)usage["completion_tokens"]!);
    }

    [Fact]
    public async Task Legacy_logprobs_list_each_token_with_offsets_into_the_text_streamed_or_not()
    {
        var result = await Post("v1/completions", new { prompt = "Once upon a time", max_tokens = 8, temperature = 0, logprobs = 2 });
        var choice = result["choices"]![0]!;
        var logprobs = choice["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Equal(8, tokens.Count);
        Assert.Equal((string)choice["text"]!, string.Concat(tokens));
        var offsets = logprobs["text_offset"]!.AsArray().Select(o => (int)o!).ToList();
        Assert.Equal(0, offsets[0]);
        for (var i = 1; i < tokens.Count; i++) Assert.Equal(offsets[i - 1] + tokens[i - 1].Length, offsets[i]);
        AssertSortedAndFinite(logprobs["token_logprobs"]!.AsArray().Select(l => (float)l!).Take(1));
        foreach (var top in logprobs["top_logprobs"]!.AsArray())
        {
            Assert.InRange(top!.AsObject().Count, 1, 2);
            AssertSortedAndFinite(top.AsObject().Select(p => (float)p.Value!));
        }

        var streamed = await PostStream("v1/completions", new { prompt = "Once upon a time", max_tokens = 8, temperature = 0, logprobs = 2 });
        var streamedTokens = streamed.SelectMany(c => c["choices"]![0]!["logprobs"]?["tokens"]?.AsArray().Select(t => (string)t!) ?? []).ToList();
        Assert.Equal(tokens, streamedTokens);
    }

    [Fact]
    public async Task Echoed_prompt_offsets_advance_over_the_prompt_and_point_at_each_tokens_text()
    {
        const string prompt = "Once upon a time there was a dog";
        var promptTokens = server.Model.Tokenizer.Tokenize(prompt, addBos: true, parseSpecial: false).Length;
        foreach (var stream in new[] { false, true })
        {
            var request = new { prompt, max_tokens = 4, temperature = 0, logprobs = 0, echo = true };
            var chunks = stream ? await PostStream("v1/completions", request) : [await Post("v1/completions", request)];
            var choices = chunks.SelectMany(c => c["choices"]!.AsArray()).ToList();
            var text = string.Concat(choices.Select(c => (string)c!["text"]!));
            var tokens = choices.SelectMany(c => c!["logprobs"]?["tokens"]?.AsArray().Select(t => (string)t!) ?? []).ToList();
            var offsets = choices.SelectMany(c => c!["logprobs"]?["text_offset"]?.AsArray().Select(o => (int)o!) ?? []).ToList();

            Assert.StartsWith(prompt, text);
            Assert.Equal(prompt.Length, offsets[promptTokens]);
            for (var i = 1; i < tokens.Count; i++)
            {
                Assert.True(offsets[i] >= offsets[i - 1], $"offsets go back at token {i}: {string.Join(",", offsets)}");
                // The echo drops the leading space SentencePiece adds to the first word.
                var piece = offsets[i] == 0 ? tokens[i].TrimStart() : tokens[i];
                Assert.Equal(piece, text.Substring(offsets[i], piece.Length));
            }
            Assert.Equal(prompt.Length - tokens[promptTokens - 1].Length, offsets[promptTokens - 1]);
        }
    }

    [Fact]
    public async Task Echo_with_logprobs_scores_the_prompt_as_token_ids_and_text_alike()
    {
        var ids = server.Model.Tokenizer.Tokenize("Once upon a time there was a dog", addBos: true, parseSpecial: false);
        var fromIds = await Post("v1/completions", new { prompt = ids, max_tokens = 1, temperature = 0, logprobs = 1, echo = true });
        var fromText = await Post("v1/completions", new { prompt = "Once upon a time there was a dog", max_tokens = 1, temperature = 0, logprobs = 1, echo = true });

        foreach (var result in new[] { fromIds, fromText })
        {
            var logprobs = result["choices"]![0]!["logprobs"]!;
            var scores = logprobs["token_logprobs"]!.AsArray();
            Assert.Equal(ids.Length + 1, scores.Count);
            Assert.Null(scores[0]);
            Assert.Null(logprobs["top_logprobs"]![0]);
            Assert.All(scores.Skip(1), s => Assert.True(float.IsFinite((float)s!) && (float)s! <= 0));
        }
        Assert.Equal(fromText["choices"]![0]!["logprobs"]!["token_logprobs"]!.ToJsonString(), fromIds["choices"]![0]!["logprobs"]!["token_logprobs"]!.ToJsonString());
        Assert.StartsWith("Once upon a time there was a dog", (string)fromText["choices"]![0]!["text"]!);

        var streamed = await PostStream("v1/completions", new { prompt = "Once upon a time there was a dog", max_tokens = 1, temperature = 0, logprobs = 1, echo = true });
        Assert.Equal((string)fromText["choices"]![0]!["text"]!, string.Concat(streamed.Select(c => (string)c["choices"]![0]!["text"]!)));
    }

    [Fact]
    public async Task Several_prompts_with_n_choices_each_come_back_prompt_major_and_each_prompt_is_counted_once()
    {
        var result = await Post("v1/completions", new { prompt = new[] { "Once upon a time", "The dog" }, n = 2, max_tokens = 4, temperature = 1.0, seed = 1 });
        Assert.Equal([0, 1, 2, 3], result["choices"]!.AsArray().Select(c => (int)c!["index"]!));
        var once = (int)(await Post("v1/completions", new { prompt = "Once upon a time", max_tokens = 1 }))["usage"]!["prompt_tokens"]!
                   + (int)(await Post("v1/completions", new { prompt = "The dog", max_tokens = 1 }))["usage"]!["prompt_tokens"]!;
        Assert.Equal(once, (int)result["usage"]!["prompt_tokens"]!);
        Assert.Equal(16, (int)result["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Choices_of_a_short_prompt_also_compute_it_once()
    {
        var prompt = $"A {Guid.NewGuid().ToString("N")[..8]} story";
        var before = server.Model.Engine.Snapshot.PrefixCache;
        var result = await Post("v1/completions", new { prompt, n = 3, max_tokens = 4, temperature = 1.0 });
        var after = server.Model.Engine.Snapshot.PrefixCache;

        var promptTokens = (int)result["usage"]!["prompt_tokens"]!;
        Assert.InRange(promptTokens, 8, 31);
        var computed = (after.QueriedTokens - before.QueriedTokens) - (after.HitTokens - before.HitTokens);
        Assert.Equal(promptTokens - (int)result["usage"]!["prompt_tokens_details"]!["cached_tokens"]! + 2, computed);
    }
}
