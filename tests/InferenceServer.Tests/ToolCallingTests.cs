#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental; the server honours it.
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>Tool calling through the official OpenAI .NET SDK against the real server (Qwen 2.5's template, Hermes syntax).</summary>
[Collection(ToolServerCollection.Name)]
public class ToolCallingTests(ToolServerFixture server)
{
    public const string WeatherSchema = """
        {"type":"object","properties":{"location":{"type":"string","maxLength":24},"unit":{"type":"string","enum":["celsius","fahrenheit"]},
         "days":{"type":"integer","minimum":1,"maximum":7}},"required":["location","unit","days"],"additionalProperties":false}
        """;
    public const string TimeSchema = """
        {"type":"object","properties":{"timezone":{"type":"string","enum":["UTC","Europe/Paris","Asia/Tokyo"]}},"required":["timezone"],"additionalProperties":false}
        """;

    private ChatClient Chat => server.OpenAI().GetChatClient(ToolServerFixture.ModelId);

    // One call per turn: under "required" with parallel calls allowed, a story model would go on writing calls (a
    // real model stops after its last one; the grammar allows that, it cannot make a model want it).
    private static ChatCompletionOptions Options(ChatToolChoice choice, float temperature, long? seed = null)
    {
        var options = new ChatCompletionOptions { ToolChoice = choice, Temperature = temperature, MaxOutputTokenCount = 200, Seed = seed, AllowParallelToolCalls = false };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather forecast for a city", BinaryData.FromString(WeatherSchema)));
        options.Tools.Add(ChatTool.CreateFunctionTool("get_time", "Current time in a time zone", BinaryData.FromString(TimeSchema)));
        return options;
    }

    private static readonly ChatMessage[] Question = [new UserChatMessage("What is the weather in Paris for the next three days?")];

    [Fact]
    public async Task Required_tool_choice_returns_calls_whose_arguments_validate()
    {
        foreach (var (temperature, seed) in new (float, long?)[] { (0, null), (1, 1), (1, 2) })
        {
            ChatCompletion completion = await Chat.CompleteChatAsync(Question, Options(ChatToolChoice.CreateRequiredChoice(), temperature, seed));
            var context = $"temperature {temperature} seed {seed}";
            Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
            Assert.NotEmpty(completion.ToolCalls);
            foreach (var call in completion.ToolCalls)
            {
                Assert.StartsWith("call_", call.Id);
                Assert.Equal(ChatToolCallKind.Function, call.Kind);
                SchemaCheck.AssertValid(call.FunctionName == "get_weather" ? WeatherSchema : TimeSchema, call.FunctionArguments.ToString(), context);
            }
        }
    }

    [Fact]
    public async Task A_named_tool_choice_calls_that_function()
    {
        foreach (var seed in new long[] { 4, 5 })
        {
            ChatCompletion completion = await Chat.CompleteChatAsync(Question, Options(ChatToolChoice.CreateFunctionChoice("get_time"), 1, seed));
            Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
            var call = Assert.Single(completion.ToolCalls);
            Assert.Equal("get_time", call.FunctionName);
            SchemaCheck.AssertValid(TimeSchema, call.FunctionArguments.ToString(), $"seed {seed}");
        }
    }

    [Fact]
    public async Task Streamed_calls_accumulate_to_the_same_calls_as_a_whole_response()
    {
        var options = Options(ChatToolChoice.CreateFunctionChoice("get_weather"), 0);
        ChatCompletion whole = await Chat.CompleteChatAsync(Question, options);
        var (text, calls, finish) = await StreamAsync(Chat, Question, options);

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("", text);
        var call = Assert.Single(calls);
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.Id);
        Assert.Equal(whole.ToolCalls[0].FunctionArguments.ToString(), call.Arguments);
        SchemaCheck.AssertValid(WeatherSchema, call.Arguments, "streamed");
        // The arguments arrive as they are generated, not in one piece when the call closes.
        Assert.True(call.Deltas > 3, $"the arguments came in {call.Deltas} deltas");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_agent_loop_runs_call_then_tool_result_then_answer(bool stream)
    {
        var messages = new List<ChatMessage>(Question);
        var first = Options(ChatToolChoice.CreateRequiredChoice(), 0);
        ChatToolCall call;
        if (stream)
        {
            var (_, calls, finish) = await StreamAsync(Chat, messages, first);
            Assert.Equal(ChatFinishReason.ToolCalls, finish);
            var streamed = calls[0];
            call = ChatToolCall.CreateFunctionToolCall(streamed.Id, streamed.Name, BinaryData.FromString(streamed.Arguments));
            messages.Add(new AssistantChatMessage([call]));
        }
        else
        {
            ChatCompletion completion = await Chat.CompleteChatAsync(messages, first);
            Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
            call = completion.ToolCalls[0];
            messages.Add(new AssistantChatMessage(completion));
        }
        messages.Add(new ToolChatMessage(call.Id, """{"forecast": "sunny", "temperature": 21}"""));

        var answerOptions = Options(ChatToolChoice.CreateNoneChoice(), 0);
        answerOptions.MaxOutputTokenCount = 24;
        if (stream)
        {
            var (text, calls, finish) = await StreamAsync(Chat, messages, answerOptions);
            Assert.Empty(calls);
            Assert.False(string.IsNullOrWhiteSpace(text));
            Assert.Equal(ChatFinishReason.Length, finish);
        }
        else
        {
            ChatCompletion answer = await Chat.CompleteChatAsync(messages, answerOptions);
            Assert.Empty(answer.ToolCalls);
            Assert.False(string.IsNullOrWhiteSpace(answer.Content[0].Text));
        }

        // The tool result reached the prompt through the template, next to the call it answers.
        var prompt = await ApplyTemplateAsync(messages);
        Assert.Contains("<tool_response>\n{\"forecast\": \"sunny\", \"temperature\": 21}\n</tool_response>", prompt);
        Assert.Contains($"<tool_call>\n{{\"name\": \"{call.FunctionName}\", \"arguments\": ", prompt);
    }

    [Fact]
    public async Task Apply_template_renders_tools_into_the_prompt_as_the_template_does()
    {
        var response = await server.Http.PostAsJsonAsync("apply-template", JsonNode.Parse(
            """{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"get_time","description":"Current time","parameters":"""
            + TimeSchema + "}}]}"));
        response.EnsureSuccessStatusCode();
        var prompt = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!;
        Assert.StartsWith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools", prompt);
        Assert.Contains("\"name\": \"get_time\"", prompt);
        Assert.EndsWith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    private async Task<string> ApplyTemplateAsync(IEnumerable<ChatMessage> messages)
    {
        // The SDK serialises each message as it sends it; /apply-template takes the same messages.
        var json = new JsonObject { ["messages"] = new JsonArray(messages.Select(m => JsonNode.Parse(System.ClientModel.Primitives.ModelReaderWriter.Write(m).ToString())).ToArray()) };
        var response = await server.Http.PostAsJsonAsync("apply-template", json);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!;
    }

    /// <summary>Streams a chat completion and accumulates its text and calls (with how many argument deltas each came in).</summary>
    internal static async Task<(string Text, List<(string Id, string Name, string Arguments, int Deltas)> Calls, ChatFinishReason? Finish)> StreamAsync(
        ChatClient chat, IEnumerable<ChatMessage> messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        var deltas = new Dictionary<int, int>();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            foreach (var call in update.ToolCallUpdates)
            {
                if (call.ToolCallId is { } id) ids[call.Index] = id;
                if (call.FunctionName is { } name) names[call.Index] = name;
                if (!arguments.TryGetValue(call.Index, out var sb)) arguments[call.Index] = sb = new StringBuilder();
                sb.Append(call.FunctionArgumentsUpdate?.ToString());
                if (call.FunctionArgumentsUpdate?.ToString() is { Length: > 0 }) deltas[call.Index] = deltas.GetValueOrDefault(call.Index) + 1;
            }
            finish ??= update.FinishReason;
        }
        return (text.ToString(), ids.Keys.Order().Select(i => (ids[i], names[i], arguments[i].ToString(), deltas.GetValueOrDefault(i))).ToList(), finish);
    }
}
