using System.Text.Json.Nodes;

namespace InferenceServer.Api.Anthropic;

/// <summary>
/// A <c>POST /v1/messages</c> body translated into a chat-completions body for the shared chat readers: the system
/// prompt becomes a system message, content blocks become chat messages (<c>tool_use</c> blocks an assistant's
/// tool_calls, <c>tool_result</c> blocks tool messages), tools and tool_choice their chat forms, <c>thinking</c>
/// the template's thinking switch. A conversation that ends with an assistant turn is continued (Anthropic's prefill).
/// </summary>
internal static class MessagesRequest
{
    private const string TextOnly = "This server reads text only: {0} blocks need a vision model, and none is served.";

    /// <summary>The chat body; <paramref name="counting"/> (count_tokens) needs no max_tokens.</summary>
    public static RequestReader ChatBody(RequestReader reader, bool counting)
    {
        var messages = new JsonArray();
        if (SystemPrompt(reader.Get("system")) is { Length: > 0 } system) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        ReadMessages(reader.Get("messages"), messages);
        var body = new JsonObject { ["messages"] = messages };

        if (!counting)
            body["max_tokens"] = reader.OptionalInteger("max_tokens", 1, int.MaxValue)
                                 ?? throw RequestReader.Invalid("max_tokens", "Missing required parameter: 'max_tokens'.", "missing_required_parameter");
        // Anthropic's ranges (temperature 0-1); the chat reader checks the rest.
        if (reader.OptionalNumber("temperature", 0, 1) is { } temperature) body["temperature"] = temperature;
        if (reader.OptionalNumber("top_p", 0, 1) is { } topP) body["top_p"] = topP;
        if (reader.OptionalInteger("top_k", 0, int.MaxValue) is { } topK) body["top_k"] = topK;
        if (reader.OptionalBool("stream") is { } stream) body["stream"] = stream;
        if (reader.Get("stop_sequences") is { } stops) body["stop"] = stops.DeepClone();
        if (reader.Get("tools") is { } tools) body["tools"] = ReadTools(tools);
        if (reader.Get("tool_choice") is { } choice) ReadToolChoice(choice, body);
        if (Thinking(reader.Get("thinking")) is { } thinking) body["chat_template_kwargs"] = new JsonObject { ["enable_thinking"] = thinking };
        ReadMetadata(reader.Get("metadata"));
        if (reader.Get("mcp_servers") is JsonArray { Count: > 0 })
            throw RequestReader.Invalid("mcp_servers", "MCP servers are not supported by this server: send your tools in 'tools' and run them in your code.", "unsupported_parameter");

        // Anthropic's prefill: a last assistant turn is continued rather than answered.
        if (messages[^1] is JsonObject last && (string?)last["role"] == "assistant" && last["tool_calls"] is null)
        {
            body["continue_final_message"] = true;
            body["add_generation_prompt"] = false;
        }
        return new RequestReader(body);
    }

    /// <summary>Runs a chat reader over <see cref="ChatBody"/>, naming Anthropic's parameters in its errors instead of chat's.</summary>
    public static T Renamed<T>(Func<T> read) => ParamNames.Renamed(read, param => param == "stop" ? "stop_sequences"
        : param.Replace(".function.parameters", ".input_schema", StringComparison.Ordinal).Replace(".function.", ".", StringComparison.Ordinal));

    /// <summary>A string or a list of text blocks.</summary>
    private static string? SystemPrompt(JsonNode? system) => system is null ? null : Text(system, "system");

    private static void ReadMessages(JsonNode? node, JsonArray messages)
    {
        if (node is not JsonArray list)
            throw node is null
                ? RequestReader.Invalid("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
                : RequestReader.WrongType("messages", "an array", node);
        if (list.Count == 0) throw RequestReader.Invalid("messages", "'messages' must contain at least one message.");
        // Tool results name their call by id; chat templates also want the function's name.
        var callNames = new Dictionary<string, string>();
        for (var i = 0; i < list.Count; i++)
        {
            var param = $"messages[{i}]";
            if (list[i] is not JsonObject message) throw RequestReader.WrongType(param, "an object", list[i]);
            var role = RequestReader.Within(param, () => new RequestReader(message).RequiredString("role"));
            if (role is not ("user" or "assistant"))
                throw RequestReader.Invalid($"{param}.role", $"Invalid role '{role}': expected 'user' or 'assistant' (the system prompt goes in 'system').");
            var content = message["content"] ?? throw RequestReader.Invalid($"{param}.content", $"Missing required parameter: '{param}.content'.", "missing_required_parameter");
            if (role == "user") AddUserTurn(content, $"{param}.content", messages, callNames);
            else messages.Add(AssistantTurn(content, $"{param}.content", callNames));
        }
    }

    /// <summary>A user turn: its tool results (each a tool message, in order), then its text.</summary>
    private static void AddUserTurn(JsonNode content, string param, JsonArray messages, Dictionary<string, string> callNames)
    {
        if (content is not JsonArray blocks)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = Text(content, param) });
            return;
        }
        var text = new List<string>();
        for (var i = 0; i < blocks.Count; i++)
        {
            var (block, type) = Block(blocks[i], $"{param}[{i}]");
            switch (type)
            {
                case "text":
                    text.Add(RequestReader.Within($"{param}[{i}]", () => new RequestReader(block).RequiredString("text")));
                    break;
                case "tool_result":
                    messages.Add(ToolResult(block, $"{param}[{i}]", callNames));
                    break;
                case "image" or "document":
                    throw RequestReader.Invalid($"{param}[{i}].type", string.Format(System.Globalization.CultureInfo.InvariantCulture, TextOnly, type), "unsupported_content");
                default:
                    throw RequestReader.Invalid($"{param}[{i}].type", $"Content blocks of type '{type}' are not supported in a user turn: send 'text' and 'tool_result' blocks.", "unsupported_content");
            }
        }
        if (text.Count > 0) messages.Add(new JsonObject { ["role"] = "user", ["content"] = string.Join("\n", text) });
    }

    private static JsonObject ToolResult(JsonObject block, string param, Dictionary<string, string> callNames)
    {
        var fields = new RequestReader(block);
        var id = RequestReader.Within(param, () => fields.RequiredString("tool_use_id"));
        var output = block["content"] is { } content ? Text(content, $"{param}.content") : "";
        // The model sees that the tool failed; the template has no field for it.
        if (RequestReader.Within(param, () => fields.OptionalBool("is_error")) is true) output = $"Error: {output}";
        var message = new JsonObject { ["role"] = "tool", ["tool_call_id"] = id, ["content"] = output };
        if (callNames.TryGetValue(id, out var name)) message["name"] = name;
        return message;
    }

    /// <summary>An assistant turn: its text, its tool_use blocks as tool_calls; earlier thinking is dropped, as templates drop it.</summary>
    private static JsonObject AssistantTurn(JsonNode content, string param, Dictionary<string, string> callNames)
    {
        if (content is not JsonArray blocks) return new JsonObject { ["role"] = "assistant", ["content"] = Text(content, param) };
        var text = new List<string>();
        var calls = new JsonArray();
        for (var i = 0; i < blocks.Count; i++)
        {
            var blockParam = $"{param}[{i}]";
            var (block, type) = Block(blocks[i], blockParam);
            var fields = new RequestReader(block);
            switch (type)
            {
                case "text":
                    text.Add(RequestReader.Within(blockParam, () => fields.RequiredString("text")));
                    break;
                case "thinking" or "redacted_thinking":
                    break;
                case "tool_use":
                    var id = RequestReader.Within(blockParam, () => fields.RequiredString("id"));
                    var name = RequestReader.Within(blockParam, () => fields.RequiredString("name"));
                    if (block["input"] is not JsonObject input) throw RequestReader.WrongType($"{blockParam}.input", "an object", block["input"]);
                    callNames[id] = name;
                    calls.Add(new JsonObject { ["id"] = id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = input.DeepClone() } });
                    break;
                default:
                    throw RequestReader.Invalid($"{blockParam}.type", $"Content blocks of type '{type}' are not supported in an assistant turn: send 'text', 'thinking' and 'tool_use' blocks.", "unsupported_content");
            }
        }
        var message = new JsonObject { ["role"] = "assistant", ["content"] = string.Join("\n", text) };
        if (calls.Count > 0) message["tool_calls"] = calls;
        return message;
    }

    private static (JsonObject Block, string Type) Block(JsonNode? node, string param)
    {
        if (node is not JsonObject block) throw RequestReader.WrongType(param, "a content block object", node);
        return (block, RequestReader.Within(param, () => new RequestReader(block).RequiredString("type")));
    }

    /// <summary>A string, or text blocks joined by newlines (a tool result's or the system prompt's); an image is refused.</summary>
    private static string Text(JsonNode content, string param)
    {
        if (content is JsonValue v && v.TryGetValue(out string? text)) return text;
        if (content is not JsonArray blocks) throw RequestReader.WrongType(param, "a string or an array of content blocks", content);
        var parts = new List<string>();
        for (var i = 0; i < blocks.Count; i++)
        {
            var (block, type) = Block(blocks[i], $"{param}[{i}]");
            if (type is "image" or "document")
                throw RequestReader.Invalid($"{param}[{i}].type", string.Format(System.Globalization.CultureInfo.InvariantCulture, TextOnly, type), "unsupported_content");
            if (type != "text") throw RequestReader.Invalid($"{param}[{i}].type", $"Content blocks of type '{type}' are not supported here: send 'text' blocks.", "unsupported_content");
            parts.Add(RequestReader.Within($"{param}[{i}]", () => new RequestReader(block).RequiredString("text")));
        }
        return string.Join("\n", parts);
    }

    /// <summary>Client tools (name, description, input_schema, strict) as chat's function tools; Anthropic's server tools are not run here.</summary>
    private static JsonArray ReadTools(JsonNode node)
    {
        if (node is not JsonArray tools) throw RequestReader.WrongType("tools", "an array", node);
        var functions = new JsonArray();
        for (var i = 0; i < tools.Count; i++)
        {
            var param = $"tools[{i}]";
            if (tools[i] is not JsonObject tool) throw RequestReader.WrongType(param, "an object", tools[i]);
            var fields = new RequestReader(tool);
            if (RequestReader.Within(param, () => fields.OptionalString("type")) is { } type && type != "custom")
                throw RequestReader.Invalid($"{param}.type", $"Tools of type '{type}' are Anthropic's server tools, which this server does not run: send client tools (name, description, input_schema).", "unsupported_value");
            if (tool["input_schema"] is not JsonObject schema)
                throw tool["input_schema"] is null
                    ? RequestReader.Invalid($"{param}.input_schema", $"Missing required parameter: '{param}.input_schema'.", "missing_required_parameter")
                    : RequestReader.WrongType($"{param}.input_schema", "a JSON Schema object", tool["input_schema"]);
            var function = new JsonObject { ["name"] = tool["name"]?.DeepClone(), ["parameters"] = schema.DeepClone() };
            if (RequestReader.Within(param, () => fields.OptionalString("description")) is { } description) function["description"] = description;
            // Anthropic's strict tool use: the chat reader checks it and holds the arguments to the schema.
            if (tool["strict"] is { } strict) function["strict"] = strict.DeepClone();
            functions.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return functions;
    }

    /// <summary>auto, any (chat's required), tool (a named function) or none; disable_parallel_tool_use keeps one call.</summary>
    private static void ReadToolChoice(JsonNode node, JsonObject body)
    {
        if (node is not JsonObject choice) throw RequestReader.WrongType("tool_choice", "an object", node);
        var fields = new RequestReader(choice);
        var type = RequestReader.Within("tool_choice", () => fields.RequiredString("type"));
        body["tool_choice"] = type switch
        {
            "auto" => "auto",
            "any" => "required",
            "none" => "none",
            "tool" => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = RequestReader.Within("tool_choice", () => fields.RequiredString("name")) } },
            _ => throw RequestReader.Invalid("tool_choice.type", $"Invalid tool_choice type '{type}': expected 'auto', 'any', 'tool' or 'none'."),
        };
        if (RequestReader.Within("tool_choice", () => fields.OptionalBool("disable_parallel_tool_use")) is true) body["parallel_tool_calls"] = false;
    }

    /// <summary>thinking: enabled (with a budget) or adaptive turns the template's thinking on, disabled off; absent leaves the template's default.</summary>
    private static bool? Thinking(JsonNode? node)
    {
        if (node is null) return null;
        if (node is not JsonObject thinking) throw RequestReader.WrongType("thinking", "an object", node);
        var fields = new RequestReader(thinking);
        var type = RequestReader.Within("thinking", () => fields.RequiredString("type"));
        switch (type)
        {
            case "enabled":
                RequestReader.Within("thinking", () => fields.OptionalInteger("budget_tokens", 1, int.MaxValue));
                return true;
            case "adaptive":
                return true;
            case "disabled":
                return false;
            default:
                throw RequestReader.Invalid("thinking.type", $"Invalid thinking type '{type}': expected 'enabled', 'adaptive' or 'disabled'.");
        }
    }

    /// <summary>metadata.user_id is accepted (a string) and has no effect.</summary>
    private static void ReadMetadata(JsonNode? node)
    {
        if (node is null) return;
        if (node is not JsonObject metadata) throw RequestReader.WrongType("metadata", "an object", node);
        RequestReader.Within("metadata", () => new RequestReader(metadata).OptionalString("user_id"));
    }
}
