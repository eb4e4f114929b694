#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental; the server honours it.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>
/// <c>strict: true</c> in <c>tool_choice: "auto"</c>, through the official OpenAI .NET SDK. The story model never opens a
/// call by itself; a logit bias on "{" makes it start its answer as JSON, which the generic syntax (this template renders
/// no tools) reads as a call. From there a strict tool's grammar holds; without strict, the model writes on as it likes.
/// </summary>
[Collection(GenericToolServerCollection.Name)]
public sealed class StrictToolTests(GenericToolServerFixture server)
{
    private const int Samples = 8;
    private ChatClient Chat => server.OpenAI().GetChatClient(GenericToolServerFixture.ModelId);
    private static readonly ChatMessage[] Question = [new UserChatMessage("What is the weather in Paris for the next three days?")];

    private async Task<ChatCompletionOptions> Options(bool strict, float temperature, long? seed = null, bool openBrace = true)
    {
        var options = new ChatCompletionOptions { Temperature = temperature, Seed = seed, MaxOutputTokenCount = 300, AllowParallelToolCalls = false };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather forecast for a city", BinaryData.FromString(ToolCallingTests.WeatherSchema), functionSchemaIsStrict: strict));
        if (openBrace) options.LogitBiases.Add(await TokenOf("{"), 100);
        return options;
    }

    /// <summary>The vocabulary's token for one piece of text, from the server's /tokenize.</summary>
    private async Task<int> TokenOf(string piece)
    {
        using var response = await server.Http.PostAsJsonAsync("tokenize", new { model = GenericToolServerFixture.ModelId, content = piece, with_pieces = true });
        var tokens = (await response.Content.ReadFromJsonAsync<JsonObject>())!["tokens"]!.AsArray();
        return (int)tokens.Single(t => (string)t!["piece"]! == piece)!["id"]!;
    }

    [Fact]
    public async Task A_strict_tool_in_auto_mode_always_returns_arguments_that_validate_where_parse_only_returns_none()
    {
        int strictValid = 0, parseOnlyCalls = 0;
        for (var seed = 1; seed <= Samples; seed++)
        {
            ChatCompletion strict = await Chat.CompleteChatAsync(Question, await Options(strict: true, 1, seed));
            Assert.Equal(ChatFinishReason.ToolCalls, strict.FinishReason);
            var call = Assert.Single(strict.ToolCalls);
            Assert.Equal("get_weather", call.FunctionName);
            SchemaCheck.AssertValid(ToolCallingTests.WeatherSchema, call.FunctionArguments.ToString(), $"seed {seed}");
            strictValid++;

            ChatCompletion parseOnly = await Chat.CompleteChatAsync(Question, await Options(strict: false, 1, seed));
            parseOnlyCalls += parseOnly.ToolCalls.Count;
            // The same opening, then whatever the model writes: no JSON a parser could read as a call.
            Assert.StartsWith("{", parseOnly.Content[0].Text);
            Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(parseOnly.Content[0].Text));
        }
        Assert.Equal((Samples, 0), (strictValid, parseOnlyCalls));
    }

    [Fact]
    public async Task A_streamed_strict_call_accumulates_to_the_whole_responses_call_in_several_deltas()
    {
        var options = await Options(strict: true, 0);
        ChatCompletion whole = await Chat.CompleteChatAsync(Question, options);
        var (text, calls, finish) = await ToolCallingTests.StreamAsync(Chat, Question, options);

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("", text);
        var call = Assert.Single(calls);
        Assert.Equal(("get_weather", whole.ToolCalls[0].FunctionArguments.ToString()), (call.Name, call.Arguments));
        SchemaCheck.AssertValid(ToolCallingTests.WeatherSchema, call.Arguments, "streamed");
        Assert.True(call.Deltas > 3, $"the arguments came in {call.Deltas} deltas");
    }

    [Fact]
    public async Task Until_the_model_opens_a_call_a_strict_tool_changes_nothing()
    {
        // Greedy, no bias: the model tells a story and never opens a call. "none" renders the same prompt (the tools
        // stay in it) with neither parsing nor grammar: the text is the same.
        var auto = await Options(strict: true, 0, openBrace: false);
        var none = await Options(strict: true, 0, openBrace: false);
        none.ToolChoice = ChatToolChoice.CreateNoneChoice();
        ChatCompletion strict = await Chat.CompleteChatAsync(Question, auto);
        ChatCompletion plain = await Chat.CompleteChatAsync(Question, none);

        Assert.Empty(strict.ToolCalls);
        Assert.False(string.IsNullOrWhiteSpace(strict.Content[0].Text));
        Assert.Equal(plain.Content[0].Text, strict.Content[0].Text);
    }

    [Fact]
    public async Task The_openai_npm_package_gets_valid_strict_calls_from_chat_and_responses_whole_and_streamed()
    {
        var directory = Path.Combine(TestFixtures.RepositoryRoot, "tests", "js");
        Assert.True(Directory.Exists(Path.Combine(directory, "node_modules", "openai")), "tests/js/node_modules is missing: run `npm ci` in tests/js (bash .ci/run does).");
        await NodeTest.RunAsync(Path.Combine(directory, "generic-template"), "strict-tools.test.js", new()
        {
            ["BASE_URL"] = new Uri(server.BaseUrl, "v1").ToString(),
            ["MODEL_ID"] = GenericToolServerFixture.ModelId,
        });
    }

    [Fact]
    public async Task A_strict_flag_that_is_not_a_boolean_is_a_400_naming_it()
    {
        using var response = await server.Http.PostAsJsonAsync("v1/chat/completions", JsonNode.Parse($$$"""
            {"model":"{{{GenericToolServerFixture.ModelId}}}","messages":[{"role":"user","content":"Hi"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{ToolCallingTests.WeatherSchema}}},"strict":"yes"}}]}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal("tools[0].function.strict", (string)error["param"]!);
    }
}
