using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace InferenceServer.Embedded;

/// <summary>
/// Microsoft.Extensions.AI's messages and options as the chat completions request the server reads, so that the
/// library and the HTTP API check, render and constrain requests with the same code (src/InferenceServer.Serving).
/// <c>AdditionalProperties</c> become request fields as they are (min_p, repetition_penalty, logit_bias, cache_salt,
/// adapters, chat_template_kwargs, reasoning_format, ...); the typed options win over a property of the same name.
/// </summary>
internal static class ChatRequestMapping
{
    /// <summary>Fields the client itself controls: one choice, streamed or not by the method called.</summary>
    private static readonly string[] Reserved = ["messages", "model", "stream", "stream_options", "n", "logprobs", "top_logprobs"];

    public static JsonObject ToRequestBody(IEnumerable<ChatMessage> messages, ChatOptions? options, string defaultModelId)
    {
        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? defaultModelId,
            ["messages"] = Messages(messages, options?.Instructions),
        };
        if (options is null) return Parsed(body);
        Set(body, "temperature", options.Temperature);
        Set(body, "top_p", options.TopP);
        Set(body, "top_k", options.TopK);
        Set(body, "max_completion_tokens", options.MaxOutputTokens);
        Set(body, "seed", options.Seed);
        Set(body, "frequency_penalty", options.FrequencyPenalty);
        Set(body, "presence_penalty", options.PresencePenalty);
        if (options.StopSequences is { Count: > 0 } stops) body["stop"] = new JsonArray([.. stops.Select(s => (JsonNode?)s)]);
        if (ResponseFormat(options.ResponseFormat) is { } format) body["response_format"] = format;
        if (Tools(options.Tools) is { } tools)
        {
            body["tools"] = tools;
            if (options.AllowMultipleToolCalls is { } parallel) body["parallel_tool_calls"] = parallel;
        }
        if (ToolChoice(options.ToolMode) is { } choice) body["tool_choice"] = choice;
        if (options.AdditionalProperties is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                if (Reserved.Contains(name))
                    throw new ArgumentException($"The additional property '{name}' is set by the chat client itself.", nameof(options));
                if (!body.ContainsKey(name)) body[name] = JsonSerializer.SerializeToNode(value, AIJsonUtilities.DefaultOptions);
            }
        }
        return Parsed(body);
    }

    /// <summary>The body as the server would have parsed it from the wire (its reader expects parsed JSON values, not CLR ones).</summary>
    public static JsonObject Parsed(JsonObject body) => JsonNode.Parse(body.ToJsonString())!.AsObject();

    private static void Set<T>(JsonObject body, string name, T? value) where T : struct
    {
        if (value is { } given) body[name] = JsonValue.Create(given);
    }

    private static JsonArray Messages(IEnumerable<ChatMessage> messages, string? instructions)
    {
        var result = new JsonArray();
        if (!string.IsNullOrEmpty(instructions)) result.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        foreach (var message in messages)
        {
            var role = message.Role.Value;
            // A tool message may carry several results: the chat format has one message per result.
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (role == ChatRole.Tool.Value || results.Count > 0)
            {
                foreach (var output in results)
                    result.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = output.CallId, ["content"] = ResultText(output.Result) });
                continue;
            }
            Refuse(message);
            var entry = new JsonObject { ["role"] = role, ["content"] = message.Text };
            if (message.AuthorName is { Length: > 0 } name) entry["name"] = name;
            var calls = message.Contents.OfType<FunctionCallContent>().Select(call => (JsonNode)new JsonObject
            {
                ["id"] = call.CallId,
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = call.Name,
                    ["arguments"] = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions),
                },
            }).ToArray();
            if (calls.Length > 0) entry["tool_calls"] = new JsonArray(calls);
            result.Add(entry);
        }
        return result;
    }

    /// <summary>The models read text: images, audio and files are refused rather than silently dropped.</summary>
    private static void Refuse(ChatMessage message)
    {
        if (message.Contents.FirstOrDefault(c => c is not (TextContent or TextReasoningContent or FunctionCallContent or UsageContent)) is { } other)
            throw new NotSupportedException($"Content of type {other.GetType().Name} is not supported: these models read text only.");
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string text => text,
        JsonElement { ValueKind: JsonValueKind.String } text => text.GetString()!,
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
    };

    private static JsonObject? ResponseFormat(ChatResponseFormat? format) => format switch
    {
        null or ChatResponseFormatText => null,
        ChatResponseFormatJson { Schema: null } => new JsonObject { ["type"] = "json_object" },
        ChatResponseFormatJson json => new JsonObject
        {
            ["type"] = "json_schema",
            ["json_schema"] = new JsonObject
            {
                ["name"] = json.SchemaName ?? "response",
                ["description"] = json.SchemaDescription,
                ["schema"] = JsonNode.Parse(json.Schema.Value.GetRawText()),
            },
        },
        _ => throw new NotSupportedException($"The response format {format.GetType().Name} is not supported."),
    };

    private static JsonArray? Tools(IList<AITool>? tools)
    {
        if (tools is not { Count: > 0 }) return null;
        var result = new JsonArray();
        foreach (var tool in tools)
        {
            if (tool is not AIFunctionDeclaration function)
                throw new NotSupportedException($"The tool '{tool.Name}' ({tool.GetType().Name}) is not supported: only functions are.");
            var definition = new JsonObject { ["name"] = function.Name, ["parameters"] = JsonNode.Parse(function.JsonSchema.GetRawText()) };
            if (!string.IsNullOrEmpty(function.Description)) definition["description"] = function.Description;
            result.Add(new JsonObject { ["type"] = "function", ["function"] = definition });
        }
        return result;
    }

    private static JsonNode? ToolChoice(ChatToolMode? mode) => mode switch
    {
        null => null,
        NoneChatToolMode => "none",
        AutoChatToolMode => "auto",
        RequiredChatToolMode { RequiredFunctionName: { } name } => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } },
        RequiredChatToolMode => "required",
        _ => throw new NotSupportedException($"The tool mode {mode.GetType().Name} is not supported."),
    };
}
