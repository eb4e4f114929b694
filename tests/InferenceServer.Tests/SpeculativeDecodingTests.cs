// The SDK marks Predicted Outputs as experimental (OPENAI001); they are what these tests exercise.
#pragma warning disable OPENAI001

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>
/// Predicted Outputs through the official OpenAI .NET SDK against the real server: a prediction changes how many
/// decodes an answer takes, never the answer. Run against each KV layout and drafter (subclasses below).
/// </summary>
public abstract class PredictedOutputsTests(ServerFixture server)
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play in the park with her dog.";

    private ChatClient Chat => server.OpenAI().GetChatClient(ServerFixture.ModelId);

    private static ChatCompletionOptions Greedy(int maxTokens, string? prediction = null) => new()
    {
        Temperature = 0,
        MaxOutputTokenCount = maxTokens,
        OutputPrediction = prediction is null ? null : ChatOutputPrediction.CreateStaticContentPrediction(prediction),
    };

    private static ChatMessage[] Ask(string text) => [new UserChatMessage(text)];

    /// <summary>The answer with every fifth word replaced: most of it still predicts the answer.</summary>
    private static string Edited(string answer) =>
        string.Join(' ', answer.Split(' ').Select((word, i) => i % 5 == 4 ? "dog" : word));

    private static async Task<(string Text, ChatTokenUsage? Usage)> Stream(ChatClient chat, ChatMessage[] messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }
        return (text.ToString(), usage);
    }

    [Fact]
    public async Task A_prediction_of_the_answer_gives_the_same_greedy_text_and_usage_counts_the_accepted_tokens()
    {
        var messages = Ask(Story);
        ChatCompletion plain = await Chat.CompleteChatAsync(messages, Greedy(64));
        ChatCompletion predicted = await Chat.CompleteChatAsync(messages, Greedy(64, plain.Content[0].Text));

        Assert.Equal(plain.Content[0].Text, predicted.Content[0].Text);
        Assert.Equal(plain.Usage.OutputTokenCount, predicted.Usage.OutputTokenCount);
        var details = predicted.Usage.OutputTokenDetails;
        // Every step outputs its accepted draft and one token more, so at most all but the first token were accepted. Not
        // all of them: this model often splits its own text into other tokens than the tokenizer does ("wo", "u", "ld "
        // for "would "), and a prediction is tokenized the tokenizer's way.
        Assert.True(details.AcceptedPredictionTokenCount >= predicted.Usage.OutputTokenCount / 4 && details.AcceptedPredictionTokenCount < predicted.Usage.OutputTokenCount,
            $"{details.AcceptedPredictionTokenCount} accepted, {details.RejectedPredictionTokenCount} rejected of {predicted.Usage.OutputTokenCount}: '{predicted.Content[0].Text}'");
    }

    [Fact]
    public async Task An_edited_prediction_gives_the_same_greedy_text_whole_and_streamed()
    {
        var messages = Ask("Tell me a story about a cat and a ball.");
        ChatCompletion plain = await Chat.CompleteChatAsync(messages, Greedy(64));
        var prediction = Edited(plain.Content[0].Text);
        Assert.NotEqual(plain.Content[0].Text, prediction);

        ChatCompletion whole = await Chat.CompleteChatAsync(messages, Greedy(64, prediction));
        var streamed = await Stream(Chat, messages, Greedy(64, prediction));

        Assert.Equal(plain.Content[0].Text, whole.Content[0].Text);
        Assert.Equal(plain.Content[0].Text, streamed.Text);
        foreach (var usage in new[] { whole.Usage, streamed.Usage! })
        {
            Assert.True(usage.OutputTokenDetails.AcceptedPredictionTokenCount > 0);
            Assert.True(usage.OutputTokenDetails.RejectedPredictionTokenCount > 0);
            Assert.True(usage.OutputTokenDetails.AcceptedPredictionTokenCount < usage.OutputTokenCount);
        }
    }

    [Fact]
    public async Task Legacy_completions_take_a_prediction_too_and_speculative_false_opts_out()
    {
        async Task<JsonNode> Complete(object extra)
        {
            var body = new JsonObject { ["model"] = ServerFixture.ModelId, ["prompt"] = Story, ["max_tokens"] = 48, ["temperature"] = 0 };
            foreach (var (key, value) in JsonSerializerNode(extra)) body[key] = value?.DeepClone();
            using var response = await server.Http.PostAsJsonAsync("v1/completions", body);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        var plain = await Complete(new { });
        var text = (string)plain["choices"]![0]!["text"]!;
        Assert.Null(plain["usage"]!["completion_tokens_details"]);
        var predicted = await Complete(new { prediction = new { type = "content", content = new[] { new { type = "text", text } } } });
        var optedOut = await Complete(new { prediction = new { type = "content", content = text }, speculative = false });

        Assert.Equal(text, (string)predicted["choices"]![0]!["text"]!);
        Assert.Equal(text, (string)optedOut["choices"]![0]!["text"]!);
        Assert.True((int)predicted["usage"]!["completion_tokens_details"]!["accepted_prediction_tokens"]! > 0, predicted.ToJsonString());
        Assert.Equal(0, (int)optedOut["usage"]!["completion_tokens_details"]!["accepted_prediction_tokens"]!);
        Assert.Equal(0, (int)optedOut["usage"]!["completion_tokens_details"]!["rejected_prediction_tokens"]!);
    }

    private static JsonObject JsonSerializerNode(object value) => System.Text.Json.JsonSerializer.SerializeToNode(value)!.AsObject();

    [Theory]
    [InlineData("\"the answer\"", "prediction")]
    [InlineData("{\"type\": \"text\", \"content\": \"x\"}", "prediction.type")]
    [InlineData("{\"type\": \"content\"}", "prediction.content")]
    [InlineData("{\"type\": \"content\", \"content\": 5}", "prediction.content")]
    [InlineData("{\"type\": \"content\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}", "prediction.content[0]")]
    public async Task A_bad_prediction_is_a_400_naming_the_parameter(string prediction, string param)
    {
        foreach (var route in new[] { "v1/chat/completions", "v1/completions" })
        {
            var body = $$"""{"model": "{{ServerFixture.ModelId}}", "messages": [{"role": "user", "content": "hi"}], "prompt": "hi", "prediction": {{prediction}}}""";
            using var response = await server.Http.PostAsync(route, new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{route}: {(int)response.StatusCode} {text}");
            Assert.Equal(param, (string?)JsonNode.Parse(text)!["error"]!["param"]);
        }
    }
}

/// <summary>
/// A server that verifies every draft in full (--speculative-policy always): the measured policy would skip drafts
/// that do not pay on this loaded machine, and a draft never verified cannot show a verification bug.
/// </summary>
public class SpeculatingServerFixture : ServerFixture
{
    protected override string[] ExtraArgs => ["--speculative-policy", "always"];
}

[CollectionDefinition(Name)]
public sealed class SpeculatingServerCollection : ICollectionFixture<SpeculatingServerFixture>
{
    public const string Name = "speculating server";
}

/// <summary>The same with the unified KV pool (--kv-unified), whose rounding depends on a decode's size: there greedy
/// equality is what the tests observe on this model, not a guarantee.</summary>
public sealed class UnifiedSpeculatingServerFixture : SpeculatingServerFixture
{
    protected override string[] ExtraArgs => [.. base.ExtraArgs, "--kv-unified"];
}

[CollectionDefinition(Name)]
public sealed class UnifiedSpeculatingServerCollection : ICollectionFixture<UnifiedSpeculatingServerFixture>
{
    public const string Name = "unified speculating server";
}

/// <summary>The default KV layout: a stream per sequence, where a verification decode rounds exactly as one token at a time.</summary>
[Collection(SpeculatingServerCollection.Name)]
public sealed class PredictedOutputsDefaultTests(SpeculatingServerFixture server) : PredictedOutputsTests(server);

[Collection(UnifiedSpeculatingServerCollection.Name)]
public sealed class PredictedOutputsUnifiedTests(UnifiedSpeculatingServerFixture server) : PredictedOutputsTests(server);

/// <summary>A server that drafts every request by prompt lookup.</summary>
public sealed class NgramServerFixture : SpeculatingServerFixture
{
    protected override string[] ExtraArgs => [.. base.ExtraArgs, "--speculative", "ngram"];
}

[CollectionDefinition(Name)]
public sealed class NgramServerCollection : ICollectionFixture<NgramServerFixture>
{
    public const string Name = "ngram server";
}

[Collection(NgramServerCollection.Name)]
public sealed class NgramDraftTests(NgramServerFixture server)
{
    [Fact]
    public async Task Prompt_lookup_drafts_keep_the_greedy_text_of_a_copy_task_and_count_in_the_metrics()
    {
        // TinyStories repeats itself: its greedy continuation copies from the prompt and from what it already wrote.
        const string prompt = "Lily said, \"I like the red ball. I like the red ball. I like the red ball. I like the";
        async Task<string> Complete(bool speculative)
        {
            using var response = await server.Http.PostAsJsonAsync("v1/completions",
                new { model = ServerFixture.ModelId, prompt, max_tokens = 64, temperature = 0, speculative });
            response.EnsureSuccessStatusCode();
            return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
        }

        Assert.Equal(await Complete(speculative: false), await Complete(speculative: true));
        var metrics = await server.Http.GetStringAsync("metrics");
        Assert.True(AcceptedDraftTokens(metrics, "ngram") > 0, metrics);
        Assert.Contains("inferenceserver_speculative_acceptance_ratio{", metrics);
    }

    /// <summary>The accepted-draft-tokens counter of one draft kind on a /metrics page.</summary>
    internal static double AcceptedDraftTokens(string metrics, string kind) => double.Parse(
        metrics.Split('\n').Single(line => line.StartsWith("inferenceserver_speculative_accepted_tokens_total{", StringComparison.Ordinal)
                                            && line.Contains($"kind=\"{kind}\"")).Split(' ')[^1],
        System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A server whose model drafts for itself: every draft is accepted, the ceiling of verification.</summary>
public sealed class DraftModelServerFixture : SpeculatingServerFixture
{
    protected override string[] ExtraArgs => [.. base.ExtraArgs, "--draft-model", TestFixtures.Model(ModelFile), "--draft-min-p", "0"];
}

[CollectionDefinition(Name)]
public sealed class DraftModelServerCollection : ICollectionFixture<DraftModelServerFixture>
{
    public const string Name = "draft model server";
}

[Collection(DraftModelServerCollection.Name)]
public sealed class DraftModelTests(DraftModelServerFixture server)
{
    [Fact]
    public async Task A_draft_model_keeps_the_greedy_text_and_the_metrics_count_its_drafts()
    {
        async Task<string> Complete(string prompt, bool speculative)
        {
            using var response = await server.Http.PostAsJsonAsync("v1/completions",
                new { model = ServerFixture.ModelId, prompt, max_tokens = 48, temperature = 0, ignore_eos = true, speculative });
            response.EnsureSuccessStatusCode();
            return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["choices"]![0]!["text"]!;
        }

        foreach (var prompt in new[] { "Once upon a time", "Tom had a red ball. He" })
            Assert.Equal(await Complete(prompt, speculative: false), await Complete(prompt, speculative: true));
        Assert.True(NgramDraftTests.AcceptedDraftTokens(await server.Http.GetStringAsync("metrics"), "draft_model") > 40);
    }

    [Fact]
    public async Task A_draft_model_of_another_vocabulary_stops_the_server_at_start_with_the_reason()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile),
                     "--draft-model", TestFixtures.Model("stories260K.gguf"), "--port", "0", "-t", "1"])
            start.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("its vocabulary has 512 tokens, the target's 2048. A draft model needs the target's vocabulary.", await output + await errors);
    }
}
