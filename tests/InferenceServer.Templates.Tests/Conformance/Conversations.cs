using System.Text.Json.Nodes;

namespace InferenceServer.Templates.Tests.Conformance;

/// <summary>The request shapes every template is rendered with, in C# and in Python Jinja2.</summary>
internal static class Conversations
{
    /// <summary>strftime_now's clock in both renderers.</summary>
    public static readonly DateTimeOffset Now = new(2026, 1, 15, 10, 30, 45, TimeSpan.Zero);

    private const string Tricky = "Hi! What's 2+2? <b>\"quoted\"</b> & café 😀\n  indented line\t";

    private static JsonObject Msg(string role, string? content) => new() { ["role"] = role, ["content"] = content };

    private static JsonArray Tools() => (JsonArray)JsonNode.Parse("""
        [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city. Use 'metric' units.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
            "days": {"type": "integer", "description": "Days ahead", "enum": [1, 2, 3]}, "metric": {"type": "boolean"}},
            "required": ["city"]}}},
         {"type": "function", "function": {"name": "search", "description": "Search the web.",
          "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "number"}}, "required": ["query"]}}}]
        """)!;

    private static JsonObject ToolCallTurn(bool argumentsAsString, string? content)
    {
        var arguments = new JsonObject { ["city"] = "Paris", ["days"] = 2, ["metric"] = true, ["ratio"] = 1.5 };
        var call = new JsonObject
        {
            ["id"] = "call_abc123",
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = argumentsAsString ? arguments.ToJsonString() : arguments },
        };
        var m = Msg("assistant", content);
        m["tool_calls"] = new JsonArray(call);
        return m;
    }

    private static JsonObject ToolResult() => new()
    {
        ["role"] = "tool", ["tool_call_id"] = "call_abc123", ["name"] = "get_weather", ["content"] = "{\"temperature\": 21, \"sky\": \"clear\"}",
    };

    private static JsonObject Context(JsonArray messages, JsonArray? tools = null)
    {
        var c = new JsonObject
        {
            ["messages"] = messages,
            ["bos_token"] = "<s>",
            ["eos_token"] = "</s>",
        };
        if (tools is not null) c["tools"] = tools;
        return c;
    }

    /// <summary>Template-specific kwargs the server forwards: firefunction's `functions` (a JSON string), Qwen3's `enable_thinking`.</summary>
    private static JsonObject WithExtras(JsonObject context)
    {
        context["functions"] = Tools().ToJsonString();
        context["datetime"] = "2026-01-15";
        context["enable_thinking"] = false;
        context["reasoning_effort"] = "low";
        return context;
    }

    /// <summary>Each conversation rendered with add_generation_prompt false and true.</summary>
    public static IReadOnlyList<(string Name, JsonObject Context)> All() =>
        Base().SelectMany(c => new[] { false, true }.Select(generationPrompt =>
        {
            var context = (JsonObject)c.Context.DeepClone();
            context["add_generation_prompt"] = generationPrompt;
            return ($"{c.Name}{(generationPrompt ? "+generation_prompt" : "")}", context);
        })).ToList();

    private static IReadOnlyList<(string Name, JsonObject Context)> Base() =>
    [
        ("system_user", Context([Msg("system", "You are a helpful assistant."), Msg("user", "Hello!")])),
        ("user_only", Context([Msg("user", Tricky)])),
        ("multi_turn", Context([Msg("system", "Be brief."), Msg("user", "Hi"), Msg("assistant", "Hello! How can I help?"), Msg("user", Tricky)])),
        ("multi_turn_ends_assistant", Context([Msg("user", "Hi"), Msg("assistant", "Hello there."), Msg("user", "Bye"), Msg("assistant", "Goodbye!")])),
        ("developer_role", Context([Msg("developer", "Answer in French."), Msg("user", "Hello")])),
        ("tools_given", Context([Msg("system", "You can call tools."), Msg("user", "Weather in Paris?")], Tools())),
        ("tool_calls_object_args", Context([Msg("user", "Weather in Paris?"), ToolCallTurn(false, null), ToolResult()], Tools())),
        ("tool_calls_string_args", Context([Msg("system", "Use tools."), Msg("user", "Weather in Paris?"), ToolCallTurn(true, ""), ToolResult(), Msg("assistant", "It is 21 degrees and clear."), Msg("user", "Thanks")], Tools())),
        ("extra_kwargs", WithExtras(Context([Msg("system", "You are terse."), Msg("user", "Hello!")]))),
        ("tool_calls_no_tools_list", Context([Msg("user", "Weather?"), ToolCallTurn(false, "Let me check."), ToolResult()])),
    ];
}
