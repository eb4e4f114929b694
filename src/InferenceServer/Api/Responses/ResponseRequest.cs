using System.Text.Json.Nodes;

namespace InferenceServer.Api.Responses;

/// <summary>
/// A <c>POST /v1/responses</c> body, read and translated into a chat conversation: the <c>input</c> items become chat
/// messages (after the stored conversation of <c>previous_response_id</c>), function tools and <c>text.format</c>
/// become their chat-completions forms. Errors name the Responses API's parameters (<c>input[2].content</c>,
/// <c>tools[0].name</c>, <c>text.format.schema</c>). Immutable once read.
/// </summary>
internal sealed record ResponseRequest(
    JsonArray InputItems,
    JsonArray Messages,
    string? Instructions,
    JsonArray Tools,
    JsonNode ToolChoice,
    bool ParallelToolCalls,
    JsonObject TextFormat,
    string? ReasoningEffort,
    string? ReasoningSummary,
    JsonObject Metadata,
    string? User,
    bool Store,
    int? TopLogprobs)
{
    private static readonly string[] InputRoles = ["user", "assistant", "system", "developer"];
    private static readonly string[] Efforts = ["none", "minimal", "low", "medium", "high", "xhigh"];
    private static readonly string[] Summaries = ["auto", "concise", "detailed"];

    /// <summary>Parameters of OpenAI's that change what a response is and are not served here: refused, never ignored.</summary>
    private static readonly (string Name, string Why)[] Refused =
    [
        ("background", "Background responses are not supported by this server: send the request without 'background' (streaming shows progress)."),
        ("conversation", "Conversations are not supported by this server: chain responses with 'previous_response_id'."),
        ("prompt", "Stored prompt templates are not supported by this server: send 'input' and 'instructions'."),
        ("n", "'n' is not a Responses API parameter: a response has one output."),
    ];

    /// <summary>Reads the body; <paramref name="previous"/> is the stored conversation this one continues (none for a new one).</summary>
    public static ResponseRequest Read(RequestReader reader, JsonArray? previous)
    {
        foreach (var (name, why) in Refused)
            if (reader.Get(name) is { } value && !(value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.False))
                throw RequestReader.Invalid(name, why, "unsupported_parameter");
        if (reader.OptionalString("truncation") is { } truncation && truncation != "disabled")
            throw RequestReader.Invalid("truncation", $"truncation '{truncation}' is not supported: an input longer than the context is refused ('disabled').", "unsupported_parameter");

        var (items, messages) = ReadInput(reader.Get("input"));
        var conversation = new JsonArray([.. (previous ?? []).Concat(messages).Select(m => m!.DeepClone())]);
        if (conversation.Count == 0) throw RequestReader.Invalid("input", "Missing required parameter: 'input'.", "missing_required_parameter");
        var tools = ReadTools(reader.Get("tools"));
        var (effort, summary) = ReadReasoning(reader.Get("reasoning"));
        return new ResponseRequest(
            items,
            conversation,
            reader.OptionalString("instructions"),
            tools,
            ReadToolChoice(reader.Get("tool_choice")),
            reader.OptionalBool("parallel_tool_calls") ?? true,
            ReadTextFormat(reader.Get("text")),
            effort,
            summary,
            ReadMetadata(reader.Get("metadata")),
            reader.OptionalString("user"),
            reader.OptionalBool("store") ?? true,
            (int?)reader.OptionalInteger("top_logprobs", 0, 20));
    }

    /// <summary>
    /// The conversation as a chat-completions body (messages with the instructions first, tools, tool_choice,
    /// response_format, chat_template_kwargs), for the chat readers; <see cref="ChatParams"/> maps their errors back.
    /// </summary>
    public RequestReader ChatBody()
    {
        var messages = new JsonArray();
        if (Instructions is { Length: > 0 }) messages.Add(new JsonObject { ["role"] = "system", ["content"] = Instructions });
        foreach (var message in Messages) messages.Add(message!.DeepClone());
        var body = new JsonObject
        {
            ["messages"] = messages,
            ["tools"] = new JsonArray([.. Tools.Select(tool => (JsonNode)new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = tool!["name"]?.DeepClone(),
                    ["description"] = tool["description"]?.DeepClone(),
                    ["parameters"] = tool["parameters"]?.DeepClone(),
                    ["strict"] = tool["strict"]?.DeepClone(),
                },
            })]),
            ["tool_choice"] = ToolChoice is JsonObject named
                ? new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = named["name"]?.DeepClone() } }
                : ToolChoice.DeepClone(),
            ["parallel_tool_calls"] = ParallelToolCalls,
            ["response_format"] = TextFormat["type"]?.GetValue<string>() == "json_schema"
                ? new JsonObject
                {
                    ["type"] = "json_schema",
                    ["json_schema"] = new JsonObject { ["name"] = TextFormat["name"]?.DeepClone(), ["schema"] = TextFormat["schema"]?.DeepClone(), ["strict"] = TextFormat["strict"]?.DeepClone() },
                }
                : TextFormat.DeepClone(),
        };
        // Templates take an effort (gpt-oss) or a switch (Qwen3, DeepSeek): "none" turns thinking off.
        if (ReasoningEffort is { } effort) body["chat_template_kwargs"] = new JsonObject { ["reasoning_effort"] = effort, ["enable_thinking"] = effort != "none" };
        return new RequestReader(body);
    }

    /// <summary>Runs a chat reader over <see cref="ChatBody"/>, renaming the chat parameters in its errors to this request's.</summary>
    public static T ChatParams<T>(Func<T> read) => ParamNames.Renamed(read, param =>
    {
        var renamed = param
            .Replace("response_format.json_schema.", "text.format.", StringComparison.Ordinal)
            .Replace("response_format", "text.format", StringComparison.Ordinal)
            .Replace(".function.", ".", StringComparison.Ordinal);
        return renamed.StartsWith("messages", StringComparison.Ordinal) ? "input" : renamed;
    });

    /// <summary>A string (one user message) or a list of items: messages, function calls and their outputs.</summary>
    private static (JsonArray Items, JsonArray Messages) ReadInput(JsonNode? input)
    {
        var items = new JsonArray();
        var messages = new JsonArray();
        switch (input)
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue(out string? text):
                items.Add(new JsonObject
                {
                    ["id"] = ResponseIds.New("msg"), ["type"] = "message", ["role"] = "user", ["status"] = "completed",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = text }),
                });
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = text });
                break;
            case JsonArray list:
                var callNames = new Dictionary<string, string>();
                for (var i = 0; i < list.Count; i++)
                {
                    var param = $"input[{i}]";
                    if (list[i] is not JsonObject item) throw RequestReader.WrongType(param, "an object", list[i]);
                    var fields = new RequestReader(item);
                    var type = RequestReader.Within(param, () => fields.OptionalString("type")) ?? (item["role"] is not null ? "message" : null);
                    switch (type)
                    {
                        case "message":
                            messages.Add(ReadMessage(item, fields, param));
                            break;
                        case "function_call":
                            var call = ReadFunctionCall(fields, param);
                            callNames[call.CallId] = call.Name;
                            AddCall(messages, call.CallId, call.Name, call.Arguments);
                            break;
                        case "function_call_output":
                            var callId = RequestReader.Within(param, () => fields.RequiredString("call_id"));
                            var output = new JsonObject { ["role"] = "tool", ["tool_call_id"] = callId, ["content"] = Text(item["output"], $"{param}.output") };
                            if (callNames.TryGetValue(callId, out var name)) output["name"] = name;
                            messages.Add(output);
                            break;
                        case "reasoning":
                            // A model's earlier thinking: templates drop it from past turns, as this server does.
                            break;
                        case null:
                            throw RequestReader.Invalid($"{param}.type", $"Missing required parameter: '{param}.type'.", "missing_required_parameter");
                        default:
                            throw RequestReader.Invalid($"{param}.type",
                                $"Input items of type '{type}' are not supported: send 'message', 'function_call' or 'function_call_output' items.", "unsupported_value");
                    }
                    var stored = (JsonObject)item.DeepClone();
                    stored["id"] ??= ResponseIds.New(type == "message" ? "msg" : type == "function_call" ? "fc" : type == "reasoning" ? "rs" : "fco");
                    stored["type"] = type;
                    stored["status"] ??= "completed";
                    items.Add(stored);
                }
                break;
            default:
                throw RequestReader.WrongType("input", "a string or an array of input items", input);
        }
        return (items, messages);
    }

    private static string Text(JsonNode? content, string param) => ChatInput.ReadContent(content, param, allowMissing: false, "input_text", "output_text", "text");

    private static JsonObject ReadMessage(JsonObject item, RequestReader fields, string param)
    {
        var role = RequestReader.Within(param, () => fields.RequiredString("role"));
        if (!InputRoles.Contains(role))
            throw RequestReader.Invalid($"{param}.role", $"Invalid role '{role}': expected one of {string.Join(", ", InputRoles)}.");
        return new JsonObject { ["role"] = role, ["content"] = Text(item["content"], $"{param}.content") };
    }

    private static (string CallId, string Name, string Arguments) ReadFunctionCall(RequestReader fields, string param) => (
        RequestReader.Within(param, () => fields.RequiredString("call_id")),
        RequestReader.Within(param, () => fields.RequiredString("name")),
        RequestReader.Within(param, () => fields.OptionalString("arguments")) ?? "{}");

    /// <summary>A function call joins the assistant message before it (its text, or calls made together); else it starts one.</summary>
    private static void AddCall(JsonArray messages, string callId, string name, string arguments)
    {
        if (messages.Count == 0 || messages[^1] is not JsonObject last || (string?)last["role"] != "assistant")
        {
            last = new JsonObject { ["role"] = "assistant", ["content"] = "" };
            messages.Add(last);
        }
        if (last["tool_calls"] is not JsonArray calls) last["tool_calls"] = calls = [];
        calls.Add(new JsonObject { ["id"] = callId, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments } });
    }

    /// <summary>Function tools, flat as the Responses API writes them; OpenAI's built-in tools are not run here.</summary>
    private static JsonArray ReadTools(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return [];
            case JsonArray tools:
                for (var i = 0; i < tools.Count; i++)
                {
                    if (tools[i] is not JsonObject tool) throw RequestReader.WrongType($"tools[{i}]", "an object", tools[i]);
                    var type = RequestReader.Within($"tools[{i}]", () => new RequestReader(tool).RequiredString("type"));
                    if (type != "function")
                        throw RequestReader.Invalid($"tools[{i}].type", $"Tools of type '{type}' are not supported: this server runs no built-in tools, only 'function' tools that your code runs.", "unsupported_value");
                    if (tool["strict"] is { } strict && strict.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
                        throw RequestReader.WrongType($"tools[{i}].strict", "a boolean", strict);
                }
                return (JsonArray)tools.DeepClone();
            default:
                throw RequestReader.WrongType("tools", "an array", node);
        }
    }

    /// <summary>"none", "auto", "required", or {"type": "function", "name": ...}.</summary>
    private static JsonNode ReadToolChoice(JsonNode? node) => node switch
    {
        null => JsonValue.Create("auto"),
        JsonValue v when v.TryGetValue(out string? _) => v.DeepClone(),
        JsonObject o when o["type"] is JsonValue t && t.TryGetValue(out string? type) && type == "function" && o["name"] is JsonValue n && n.TryGetValue(out string? _) => o.DeepClone(),
        _ => throw RequestReader.WrongType("tool_choice", "'none', 'auto', 'required' or {\"type\": \"function\", \"name\": ...}", node),
    };

    /// <summary>text.format: {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "name", "schema", "strict"}.</summary>
    private static JsonObject ReadTextFormat(JsonNode? text)
    {
        switch (text)
        {
            case null:
                return new JsonObject { ["type"] = "text" };
            case JsonObject fields:
                if (fields["verbosity"] is JsonValue verbosity && verbosity.TryGetValue(out string? level) && level != "medium")
                    throw RequestReader.Invalid("text.verbosity", "Only 'medium' verbosity is served: this server does not steer answer length.", "unsupported_value");
                return fields["format"] switch
                {
                    null => new JsonObject { ["type"] = "text" },
                    JsonObject format => (JsonObject)format.DeepClone(),
                    var other => throw RequestReader.WrongType("text.format", "an object", other),
                };
            default:
                throw RequestReader.WrongType("text", "an object", text);
        }
    }

    /// <summary>
    /// reasoning.effort, passed to chat templates that take it (reasoning_effort), and reasoning.summary, only echoed:
    /// no summary is generated, the reasoning item carries the whole reasoning text.
    /// </summary>
    private static (string? Effort, string? Summary) ReadReasoning(JsonNode? reasoning)
    {
        if (reasoning is null) return (null, null);
        if (reasoning is not JsonObject fields) throw RequestReader.WrongType("reasoning", "an object", reasoning);
        return (OneOf(fields, "effort", Efforts), OneOf(fields, "summary", Summaries));

        static string? OneOf(JsonObject fields, string name, string[] allowed)
        {
            var value = RequestReader.Within("reasoning", () => new RequestReader(fields).OptionalString(name));
            return value is null || allowed.Contains(value)
                ? value
                : throw RequestReader.Invalid($"reasoning.{name}", $"Invalid reasoning.{name} '{value}': expected one of {string.Join(", ", allowed)}.");
        }
    }

    /// <summary>Up to 16 string pairs (keys up to 64 characters, values up to 512), as at OpenAI.</summary>
    private static JsonObject ReadMetadata(JsonNode? node)
    {
        if (node is null) return [];
        if (node is not JsonObject metadata) throw RequestReader.WrongType("metadata", "an object of strings", node);
        if (metadata.Count > 16) throw RequestReader.Invalid("metadata", "'metadata' holds at most 16 pairs.");
        foreach (var (key, value) in metadata)
        {
            if (key.Length > 64) throw RequestReader.Invalid("metadata", $"Metadata keys are at most 64 characters; '{key[..16]}…' is {key.Length}.");
            if (value is not JsonValue v || !v.TryGetValue(out string? text)) throw RequestReader.WrongType($"metadata.{key}", "a string", value);
            if (text.Length > 512) throw RequestReader.Invalid($"metadata.{key}", $"Metadata values are at most 512 characters; this one is {text.Length}.");
        }
        return (JsonObject)metadata.DeepClone();
    }
}

internal static class ResponseIds
{
    /// <summary>An id in OpenAI's style: a type prefix and 48 hex digits (resp_…, msg_…, fc_…).</summary>
    public static string New(string prefix) => $"{prefix}_{Guid.NewGuid():N}{Guid.NewGuid():N}"[..(prefix.Length + 49)];
}
