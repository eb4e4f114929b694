using System.Text.Json.Nodes;

namespace InferenceServer.Api.Ollama;

/// <summary>
/// Ollama's <c>/api/chat</c> and <c>/api/generate</c> bodies translated into a chat-completions body for the shared
/// readers: <c>options</c> become the sampling parameters (num_predict → max_tokens, repeat_penalty →
/// repetition_penalty), <c>format</c> a response_format, <c>think</c> the template's thinking switch, tool calls with
/// object arguments and tool results by <c>tool_name</c> chat's tool_calls and tool messages. Ollama streams by default.
/// </summary>
internal static class OllamaRequest
{
    /// <summary>A chat request: its messages, tools and the common fields.</summary>
    public static JsonObject Chat(RequestReader reader)
    {
        var body = Common(reader);
        var messages = Messages(reader.Get("messages"));
        body["messages"] = messages;
        // As Ollama does, a last assistant turn is continued rather than answered.
        if (messages.Count > 0 && messages[^1] is JsonObject last && (string?)last["role"] == "assistant" && last["tool_calls"] is null)
        {
            body["continue_final_message"] = true;
            body["add_generation_prompt"] = false;
        }
        if (reader.Get("tools") is { } tools) body["tools"] = tools.DeepClone();
        // Extension (Ollama has none): chat's tool_choice, so that a client can force a call.
        if (reader.Get("tool_choice") is { } choice) body["tool_choice"] = choice.DeepClone();
        return body;
    }

    /// <summary>A generate request that goes through the chat template (not raw): the system prompt and the prompt as one user turn.</summary>
    public static JsonObject Generate(RequestReader reader, string prompt)
    {
        foreach (var (name, why) in new[]
                 {
                     ("suffix", "Fill-in-the-middle ('suffix') is not supported by this server."),
                     ("template", "A per-request 'template' is not supported: the model's own chat template (or --chat-template) is used; send 'raw': true with a formatted prompt instead."),
                     ("context", "'context' (the token ids of an earlier answer, deprecated by Ollama) is not supported: send the conversation to /api/chat instead."),
                 })
        {
            if (reader.Get(name) is { } value && !IsEmpty(value)) throw RequestReader.Invalid(name, why, "unsupported_parameter");
        }
        NoImages(reader.Get("images"), "images");
        var body = Common(reader);
        var messages = new JsonArray();
        if (reader.OptionalString("system") is { Length: > 0 } system) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = prompt });
        body["messages"] = messages;
        return body;
    }

    /// <summary>What chat and generate share: the model (Ollama's name resolved to the id), stream (default true), options, format, think, keep_alive.</summary>
    private static JsonObject Common(RequestReader reader)
    {
        var body = new JsonObject { ["stream"] = reader.OptionalBool("stream") ?? true };
        if (reader.Get("options") is { } options) ReadOptions(options, body);
        switch (reader.Get("format"))
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue(out string? format) && format is "json" or "":
                if (format == "json") body["response_format"] = new JsonObject { ["type"] = "json_object" };
                break;
            case JsonObject schema:
                body["response_format"] = new JsonObject { ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "format", ["schema"] = schema.DeepClone() } };
                break;
            case var other:
                throw RequestReader.WrongType("format", "\"json\" or a JSON schema object", other);
        }
        switch (reader.Get("think"))
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue(out bool think):
                body["chat_template_kwargs"] = new JsonObject { ["enable_thinking"] = think };
                break;
            case JsonValue v when v.TryGetValue(out string? level) && level is "low" or "medium" or "high":
                body["chat_template_kwargs"] = new JsonObject { ["enable_thinking"] = true, ["reasoning_effort"] = level };
                break;
            case var other:
                throw RequestReader.WrongType("think", "a boolean or 'low', 'medium', 'high'", other);
        }
        KeepAlive(reader.Get("keep_alive"));
        return body;
    }

    /// <summary>Checks keep_alive ("5m", seconds, negative for forever); the model's configured keep_alive applies (docs/models.md).</summary>
    private static void KeepAlive(JsonNode? node)
    {
        var readable = node switch
        {
            null => true,
            JsonValue v when v.TryGetValue(out string? text) => ModelSpec.ParseKeepAlive(text) is not null,
            JsonValue v => v.GetValueKind() == System.Text.Json.JsonValueKind.Number,
            _ => false,
        };
        if (!readable) throw RequestReader.Invalid("keep_alive", "'keep_alive' must be a duration (\"5m\", \"1h30m\") or a number of seconds.");
    }

    /// <summary>The sampling options; the others (load-time options such as num_gpu, and typical_p, repeat_last_n) are ignored, as Ollama ignores unknown ones.</summary>
    private static void ReadOptions(JsonNode node, JsonObject body)
    {
        if (node is not JsonObject options) throw RequestReader.WrongType("options", "an object", node);
        var fields = new RequestReader(options);
        var numPredict = RequestReader.Within("options", () => fields.OptionalInteger("num_predict", -2, int.MaxValue));
        // -1 (no limit) and -2 (fill the context) both mean what fits; 0 is Ollama's "generate nothing", not served.
        if (numPredict == 0) throw RequestReader.Invalid("options.num_predict", "'options.num_predict' must be positive, -1 (no limit) or -2 (fill the context).");
        if (numPredict > 0) body["max_tokens"] = numPredict;
        foreach (var (ollama, chat) in new[]
                 {
                     ("temperature", "temperature"), ("top_k", "top_k"), ("top_p", "top_p"), ("min_p", "min_p"), ("seed", "seed"),
                     ("repeat_penalty", "repetition_penalty"), ("presence_penalty", "presence_penalty"), ("frequency_penalty", "frequency_penalty"), ("stop", "stop"),
                 })
        {
            if (options[ollama] is { } value) body[chat] = value.DeepClone();
        }
        if (RequestReader.Within("options", () => fields.OptionalInteger("num_ctx", 1, int.MaxValue)) is { } numCtx) body["num_ctx"] = numCtx;
    }

    /// <summary>Chat messages; Ollama's tool calls carry no ids, so calls get ids here and each tool result names its call by tool_name (else the next unanswered one).</summary>
    private static JsonArray Messages(JsonNode? node)
    {
        if (node is null) return [];
        if (node is not JsonArray list) throw RequestReader.WrongType("messages", "an array", node);
        var messages = new JsonArray();
        var unanswered = new List<(string Id, string Name)>();
        for (var i = 0; i < list.Count; i++)
        {
            var param = $"messages[{i}]";
            if (list[i] is not JsonObject message) throw RequestReader.WrongType(param, "an object", list[i]);
            var fields = new RequestReader(message);
            var role = RequestReader.Within(param, () => fields.RequiredString("role"));
            NoImages(message["images"], $"{param}.images");
            var output = new JsonObject { ["role"] = role, ["content"] = RequestReader.Within(param, () => fields.OptionalString("content")) ?? "" };
            if (message["tool_calls"] is JsonArray calls)
            {
                var translated = new JsonArray();
                for (var j = 0; j < calls.Count; j++)
                {
                    var function = calls[j]?["function"] as JsonObject ?? throw RequestReader.WrongType($"{param}.tool_calls[{j}].function", "an object", calls[j]?["function"]);
                    var name = RequestReader.Within($"{param}.tool_calls[{j}].function", () => new RequestReader(function).RequiredString("name"));
                    var id = calls[j]?["id"] is JsonValue given && given.TryGetValue(out string? callId) ? callId : $"call_{i}_{j}";
                    unanswered.Add((id, name));
                    translated.Add(new JsonObject { ["id"] = id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = function["arguments"]?.DeepClone() ?? new JsonObject() } });
                }
                output["tool_calls"] = translated;
            }
            else if (message["tool_calls"] is { } other)
            {
                throw RequestReader.WrongType($"{param}.tool_calls", "an array", other);
            }
            if (role == "tool")
            {
                var toolName = RequestReader.Within(param, () => fields.OptionalString("tool_name") ?? fields.OptionalString("name"));
                var at = unanswered.FindIndex(call => toolName is null || call.Name == toolName);
                var (id, name) = at >= 0 ? unanswered[at] : ($"call_{i}", toolName ?? "");
                if (at >= 0) unanswered.RemoveAt(at);
                output["tool_call_id"] = id;
                if (name.Length > 0) output["name"] = name;
            }
            messages.Add(output);
        }
        return messages;
    }

    /// <summary>Images are refused while no vision model is served; an empty list is no images.</summary>
    public static void NoImages(JsonNode? images, string param)
    {
        if (images is not null && !IsEmpty(images))
            throw RequestReader.Invalid(param, "This server reads text only: images need a vision model, and none is served.", "unsupported_content");
    }

    private static bool IsEmpty(JsonNode value) => value switch
    {
        JsonArray array => array.Count == 0,
        JsonValue v when v.TryGetValue(out string? s) => s.Length == 0,
        _ => false,
    };
}
