using System.Text.Json.Nodes;
using InferenceServer.Api;

namespace InferenceServer.Serving.Tests;

/// <summary>Chat messages as clients send them: normalised for chat templates, and every malformed part a 400 naming its path.</summary>
public sealed class ChatInputTests
{
    private static ChatInput Read(string json) => ChatInput.Read(new RequestReader(JsonNode.Parse(json)!.AsObject()), toolsServed: false);

    private static ApiError ErrorOf(string json) => RequestReaderTests.ErrorOf(() => Read(json));

    [Theory]
    [InlineData("""{}""", "messages", "missing_required_parameter")]
    [InlineData("""{"messages": "hi"}""", "messages", "invalid_type")]
    [InlineData("""{"messages": []}""", "messages", "invalid_value")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}, "b"]}""", "messages[1]", "invalid_type")]
    [InlineData("""{"messages": [{"content": "a"}]}""", "messages[0].role", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "robot", "content": "a"}]}""", "messages[0].role", "invalid_value")]
    [InlineData("""{"messages": [{"role": "user"}]}""", "messages[0].content", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "user", "content": 5}]}""", "messages[0].content", "invalid_type")]
    [InlineData("""{"messages": [{"role": "user", "content": ["a"]}]}""", "messages[0].content[0]", "invalid_type")]
    [InlineData("""{"messages": [{"role": "user", "content": [{"text": "a"}]}]}""", "messages[0].content[0].type", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "user", "content": [{"type": "text"}]}]}""", "messages[0].content[0].text", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""", "messages[0].content[0].type", "unsupported_content")]
    [InlineData("""{"messages": [{"role": "user", "content": "a", "name": 1}]}""", "messages[0].name", "invalid_type")]
    [InlineData("""{"messages": [{"role": "tool", "content": "42"}]}""", "messages[0].tool_call_id", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "assistant", "tool_calls": {}}]}""", "messages[0].tool_calls", "invalid_type")]
    [InlineData("""{"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}""", "messages[0].tool_calls[0].function", "invalid_type")]
    [InlineData("""{"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]}""", "messages[0].tool_calls[0].function.name", "missing_required_parameter")]
    [InlineData("""{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}]}""", "messages[0].tool_calls[0].function.arguments", "invalid_type")]
    [InlineData("""{"messages": [{"role": "user", "content": "a"}], "chat_template_kwargs": "x"}""", "chat_template_kwargs", "invalid_type")]
    [InlineData("""{"messages": [{"role": "assistant", "content": "a"}], "continue_final_message": true, "add_generation_prompt": true}""", "continue_final_message", "invalid_value")]
    public void Each_malformed_part_is_a_400_naming_its_path(string json, string param, string code)
    {
        var error = ErrorOf(json);
        Assert.Equal((param, code), (error.Param, error.Code));
    }

    [Fact]
    public void Text_parts_join_with_newlines_and_an_assistant_may_leave_content_out()
    {
        var input = Read("""
            {"messages": [
              {"role": "developer", "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}]},
              {"role": "user", "content": "Hi", "name": "ann"},
              {"role": "assistant"}
            ]}
            """);

        Assert.Equal("Be brief.\nBe kind.", (string)input.Messages[0]!["content"]!);
        Assert.Equal("ann", (string)input.Messages[1]!["name"]!);
        Assert.Equal("", (string)input.Messages[2]!["content"]!);
        Assert.True(input.AddGenerationPrompt);
        Assert.False(input.ContinueFinalMessage);
    }

    [Fact]
    public void Earlier_tool_calls_reach_the_template_with_arguments_as_an_object_when_they_hold_one()
    {
        var input = Read("""
            {"messages": [
              {"role": "user", "content": "Weather?"},
              {"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "note", "arguments": "not json"}},
                {"type": "function", "function": {"name": "ping"}}]},
              {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
            ]}
            """);

        var calls = input.Messages[1]!["tool_calls"]!.AsArray();
        Assert.Equal("Paris", (string)calls[0]!["function"]!["arguments"]!["city"]!);
        Assert.Equal("c1", (string)calls[0]!["id"]!);
        Assert.Equal("not json", (string)calls[1]!["function"]!["arguments"]!);
        Assert.Empty(calls[2]!["function"]!["arguments"]!.AsObject());
        Assert.Null(calls[2]!["id"]);
        Assert.Equal("c1", (string)input.Messages[2]!["tool_call_id"]!);
    }

    [Fact]
    public void Continuing_the_final_message_drops_the_generation_prompt()
    {
        var input = Read("""{"messages": [{"role": "assistant", "content": "Once upon"}], "continue_final_message": true}""");
        Assert.True(input.ContinueFinalMessage);
        Assert.False(input.AddGenerationPrompt);
    }

    [Fact]
    public void Reasoning_effort_reaches_the_template_as_a_variable_unless_the_kwargs_set_one()
    {
        Assert.Equal("low", (string)Read("""{"messages": [{"role": "user", "content": "a"}], "reasoning_effort": "low"}""").TemplateKwargs!["reasoning_effort"]!);
        var both = Read("""{"messages": [{"role": "user", "content": "a"}], "reasoning_effort": "low", "chat_template_kwargs": {"reasoning_effort": "high", "x": 1}}""");
        Assert.Equal("high", (string)both.TemplateKwargs!["reasoning_effort"]!);
        Assert.Equal(1, (int)both.TemplateKwargs["x"]!);
        Assert.Null(Read("""{"messages": [{"role": "user", "content": "a"}]}""").TemplateKwargs);
    }
}
