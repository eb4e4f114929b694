using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;

namespace InferenceServer.Embedded.Tests;

/// <summary>The in-process chat client through Microsoft.Extensions.AI's pipeline, on the real model.</summary>
[Collection(LocalInferenceCollection.Name)]
public class ChatClientTests(LocalInferenceFixture fixture)
{
    private static ChatOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    [Fact]
    public async Task A_streamed_response_is_the_whole_response_in_pieces()
    {
        List<ChatMessage> messages = [new(ChatRole.User, "Tell me a story about a cat.")];
        var whole = await fixture.Chat.GetResponseAsync(messages, Greedy(48));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in fixture.Chat.GetStreamingResponseAsync(messages, Greedy(48))) updates.Add(update);
        var streamed = updates.ToChatResponse();

        Assert.False(string.IsNullOrEmpty(whole.Text));
        Assert.True(updates.Count > 2, $"{updates.Count} updates");
        Assert.Equal(whole.Text, streamed.Text);
        Assert.Equal(whole.FinishReason, streamed.FinishReason);
        Assert.Equal(whole.Usage!.OutputTokenCount, streamed.Usage!.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, streamed.Usage.InputTokenCount);
        Assert.Equal(LocalInferenceFixture.ModelId, whole.ModelId);
        // The second identical prompt found the first one's KV in the prefix cache.
        Assert.True(streamed.Usage.CachedInputTokenCount > 0, $"cached {streamed.Usage.CachedInputTokenCount}");
        // The OpenTelemetry middleware saw the usage.
        Assert.Contains(fixture.Activities, a => a.GetTagItem("gen_ai.usage.output_tokens") is int or long);
    }

    [Fact]
    public async Task Max_tokens_stop_sequences_and_seed_are_honoured()
    {
        var limited = await fixture.Chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 5, AdditionalProperties = new() { ["ignore_eos"] = true } });
        Assert.Equal(5, limited.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, limited.FinishReason);

        var full = await fixture.Chat.GetResponseAsync("Once upon a time", Greedy(40));
        var stop = full.Text.Trim().Split(' ')[2];
        var stopped = await fixture.Chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 40, StopSequences = [stop] });
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.DoesNotContain(stop, stopped.Text);
        Assert.StartsWith(stopped.Text, full.Text);

        ChatOptions Seeded() => new() { Temperature = 1, TopP = 0.9f, TopK = 40, Seed = 7, PresencePenalty = 0.5f, FrequencyPenalty = 0.5f, MaxOutputTokens = 30 };
        Assert.Equal((await fixture.Chat.GetResponseAsync("A dog", Seeded())).Text, (await fixture.Chat.GetResponseAsync("A dog", Seeded())).Text);
    }

    [Fact]
    public async Task Sixteen_concurrent_callers_share_the_engines_steps()
    {
        var engine = fixture.Local.Model(LocalInferenceFixture.ModelId).Engine;
        var before = engine.Snapshot.Steps;
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => fixture.Chat.GetResponseAsync(
            $"Story number {i}: a girl and a ball.", new ChatOptions { Temperature = 0, MaxOutputTokens = 32, AdditionalProperties = new() { ["ignore_eos"] = true } })));
        var steps = engine.Snapshot.Steps - before;
        var tokens = responses.Sum(r => r.Usage!.OutputTokenCount!.Value);

        Assert.Equal(16 * 32, tokens);
        Assert.True(steps < tokens, $"{steps} engine steps for {tokens} tokens");
    }

    [Description("Gets the weather forecast for a city.")]
    private static string GetWeather([Description("The city")] string city) => $"Sunny and 21 degrees in {city}.";

    [Fact]
    public async Task Function_invocation_runs_a_tool_loop()
    {
        var calls = new List<string>();
        var tool = AIFunctionFactory.Create((string city) =>
        {
            lock (calls) calls.Add(city);
            return GetWeather(city);
        }, "get_weather", "Gets the weather forecast for a city.");
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 200, Tools = [tool], ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = false };

        var response = await fixture.Chat.GetResponseAsync("What is the weather in Paris?", options);

        // The model called the tool (forced by the grammar), the middleware ran it and sent its result back, and the model answered.
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal(call.Arguments!["city"]?.ToString(), Assert.Single(calls));
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>());
        Assert.Equal(call.CallId, result.CallId);
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.False(string.IsNullOrEmpty(response.Messages[^1].Text));
        Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
    }

    [Fact]
    public async Task A_streamed_tool_call_is_the_whole_one()
    {
        var tool = AIFunctionFactory.Create(GetWeather, "get_weather");
        ChatOptions Options() => new() { Temperature = 0, MaxOutputTokens = 200, Tools = [tool], ToolMode = ChatToolMode.RequireSpecific("get_weather") };
        var raw = fixture.Local.GetChatClient();
        var whole = await raw.GetResponseAsync("Weather in Oslo?", Options());
        var streamed = (await raw.GetStreamingResponseAsync("Weather in Oslo?", Options()).ToListAsync()).ToChatResponse();

        Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
        Assert.Equal(whole.FinishReason, streamed.FinishReason);
        var a = Assert.Single(whole.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        var b = Assert.Single(streamed.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(a.Name, b.Name);
        Assert.Equal(a.Arguments!["city"]?.ToString(), b.Arguments!["city"]?.ToString());
    }

    public enum Sky { Sunny, Cloudy, Rainy }

    public sealed record Forecast(Sky Sky, [property: Range(-40, 50)] int Temperature, bool Windy);

    [Fact]
    public async Task A_typed_result_comes_back_as_its_type()
    {
        var response = await fixture.Chat.GetResponseAsync<Forecast>("Give me the forecast for Rome as JSON.", Greedy(80));

        Assert.True(response.TryGetResult(out var forecast), response.Text);
        Assert.InRange(forecast!.Temperature, -40, 50);
        Assert.True(Enum.IsDefined(forecast.Sky));
    }

    [Fact]
    public async Task Cancelling_a_stream_frees_its_sequence()
    {
        var engine = fixture.Local.Model(LocalInferenceFixture.ModelId).Engine;
        using var cancel = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in fixture.Chat.GetStreamingResponseAsync("Once upon a time",
                               new ChatOptions { MaxOutputTokens = 800, AdditionalProperties = new() { ["ignore_eos"] = true } }, cancel.Token))
                if (++received == 3) await cancel.CancelAsync();
        });
        // Not a timing assertion: the engine drops the sequence at its next step; wait for it, however long that is.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (engine.Snapshot.Running + engine.Snapshot.Waiting > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, engine.Snapshot.Running + engine.Snapshot.Waiting);
    }

    [Fact]
    public async Task Bad_options_are_argument_errors_naming_the_field()
    {
        var temperature = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Chat.GetResponseAsync("Hi", new ChatOptions { Temperature = 5 }));
        Assert.Equal("temperature", temperature.ParamName);
        var model = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Chat.GetResponseAsync("Hi", new ChatOptions { ModelId = "nope" }));
        Assert.Equal("model", model.ParamName);
        var adapter = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Chat.GetResponseAsync("Hi", new ChatOptions { ModelId = $"{LocalInferenceFixture.ModelId}:missing" }));
        Assert.Contains("no LoRA adapter 'missing'", adapter.Message);
    }
}
