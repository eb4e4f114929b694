using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InferenceServer.Contracts;

namespace InferenceServer.Tests;

/// <summary>vLLM's prompt options on /apply-template and chat completions, and tool_choice "none" (Qwen 2.5's template).</summary>
[Collection(ToolServerCollection.Name)]
public sealed class ChatPromptOptionsTests(ToolServerFixture server)
{
    private static readonly JsonArray Story = [new JsonObject { ["role"] = "user", ["content"] = "Tell me a story." },
        new JsonObject { ["role"] = "assistant", ["content"] = "Once upon a time" }];

    [Fact]
    public async Task Add_generation_prompt_false_renders_as_the_template_does_without_the_assistant_turn()
    {
        var messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" });
        var withPrompt = await ApplyTemplateAsync(new JsonObject { ["messages"] = messages.DeepClone() });
        var without = await ApplyTemplateAsync(new JsonObject { ["messages"] = messages.DeepClone(), ["add_generation_prompt"] = false });

        Assert.Equal(server.Model.ChatRenderer.Render(new ChatConversation((JsonArray)messages.DeepClone(), null, AddGenerationPrompt: false)), without);
        Assert.Equal(without + "<|im_start|>assistant\n", withPrompt);
    }

    [Fact]
    public async Task Continue_final_message_leaves_the_last_message_open_for_the_model_to_continue()
    {
        var prompt = await ApplyTemplateAsync(new JsonObject { ["messages"] = Story.DeepClone(), ["continue_final_message"] = true });
        Assert.EndsWith("<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\nOnce upon a time", prompt);

        var completion = await server.Http.PostAsJsonAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = ToolServerFixture.ModelId, ["messages"] = Story.DeepClone(), ["continue_final_message"] = true, ["max_tokens"] = 4,
        });
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        var usage = (await completion.Content.ReadFromJsonAsync<JsonObject>())!["usage"]!;
        Assert.Equal(server.Model.Tokenizer.Tokenize(prompt, addBos: true, parseSpecial: true).Length, (int)usage["prompt_tokens"]!);
    }

    [Fact]
    public async Task Continue_final_message_with_add_generation_prompt_true_is_a_400()
    {
        var response = await server.Http.PostAsJsonAsync("apply-template", new JsonObject
        {
            ["messages"] = Story.DeepClone(), ["continue_final_message"] = true, ["add_generation_prompt"] = true,
        });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("continue_final_message", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
    }

    [Fact]
    public async Task Tool_choice_none_keeps_the_tools_in_the_prompt()
    {
        var request = new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
            ["tools"] = JsonNode.Parse($$$"""[{"type":"function","function":{"name":"get_time","parameters":{{{ToolCallingTests.TimeSchema}}}}}]"""),
        };
        var auto = await ApplyTemplateAsync((JsonObject)request.DeepClone());
        request["tool_choice"] = "none";
        Assert.Equal(auto, await ApplyTemplateAsync(request));
        Assert.Contains("\"name\": \"get_time\"", auto);
    }

    private async Task<string> ApplyTemplateAsync(JsonObject request)
    {
        var response = await server.Http.PostAsJsonAsync("apply-template", request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!;
    }
}

/// <summary>stories260K-chatml with a template that renders neither tools nor anything but messages and one kwarg.</summary>
public sealed class GenericToolServerFixture : ServerFixture
{
    public new const string ModelId = "stories260K-chatml";

    private static readonly string Template = WriteTemplate();

    protected override string[] Args =>
        ["-m", TestFixtures.Model("stories260K-chatml.gguf"), "--chat-template", Template, "--port", "0", "-np", "4", "-c", "4096", "-t", "1"];

    private static string WriteTemplate()
    {
        var path = Path.Combine(Path.GetTempPath(), $"generic-tools-{Environment.ProcessId}.jinja");
        File.WriteAllText(path, "{% if greeting is defined %}{{ greeting }}\n{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class GenericToolServerCollection : ICollectionFixture<GenericToolServerFixture>
{
    public const string Name = "generic tool server";
}

/// <summary>A template that does not render tools: the tools go into a generic system message and calls are parsed as generic JSON.</summary>
[Collection(GenericToolServerCollection.Name)]
public sealed class GenericToolPromptTests(GenericToolServerFixture server)
{
    private static JsonNode Tools() => JsonNode.Parse($$$"""[{"type":"function","function":{"name":"get_time","description":"Current time","parameters":{{{ToolCallingTests.TimeSchema}}}}}]""")!;

    [Fact]
    public async Task Tools_are_described_in_a_system_message_before_the_conversation()
    {
        var response = await server.Http.PostAsJsonAsync("apply-template", new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "What time is it?" }), ["tools"] = Tools(),
        });
        var prompt = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!;
        Assert.StartsWith("<|im_start|>system\nYou can call the following tools.", prompt);
        Assert.Contains("""{"name":"get_time","description":"Current time","parameters":{"type":"object",""", prompt);
        Assert.EndsWith("<|im_end|>\n<|im_start|>user\nWhat time is it?<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public async Task A_forced_call_comes_back_as_a_tool_call_whose_arguments_validate()
    {
        var response = await server.Http.PostAsJsonAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = GenericToolServerFixture.ModelId, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Time?" }),
            ["tools"] = Tools(), ["tool_choice"] = "required", ["parallel_tool_calls"] = false, ["max_tokens"] = 100, ["temperature"] = 0,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = (await response.Content.ReadFromJsonAsync<JsonObject>())!["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        var call = choice["message"]!["tool_calls"]![0]!["function"]!;
        Assert.Equal("get_time", (string?)call["name"]);
        SchemaCheck.AssertValid(ToolCallingTests.TimeSchema, (string)call["arguments"]!, "generic tool call");
    }

    [Fact]
    public async Task Chat_template_kwargs_reach_the_template()
    {
        var response = await server.Http.PostAsJsonAsync("apply-template", new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }), ["chat_template_kwargs"] = new JsonObject { ["greeting"] = "Hello there" },
        });
        Assert.StartsWith("Hello there\n<|im_start|>user\nHi", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!);
    }
}
