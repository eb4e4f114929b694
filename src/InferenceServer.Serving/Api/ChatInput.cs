using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

/// <summary>
/// The part of a chat request that becomes the prompt: messages (normalised to what chat templates
/// expect), tool settings, chat_template_kwargs, and vLLM's add_generation_prompt and continue_final_message.
/// Shared by /v1/chat/completions and /apply-template.
/// </summary>
internal sealed record ChatInput(JsonArray Messages, ToolSettings Tools, JsonObject? TemplateKwargs, bool AddGenerationPrompt = true, bool ContinueFinalMessage = false)
{
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    public static ChatInput Read(RequestReader reader, bool toolsServed = true)
    {
        var kwargs = reader.Get("chat_template_kwargs") switch
        {
            null => null,
            JsonObject given => (JsonObject)given.DeepClone(),
            var other => throw RequestReader.WrongType("chat_template_kwargs", "an object", other),
        };
        // Templates that take a reasoning effort (gpt-oss, Cohere, Solar) read it as a variable, as llama-server passes it.
        if (reader.OptionalString("reasoning_effort") is { } effort)
        {
            kwargs ??= [];
            kwargs.TryAdd("reasoning_effort", effort);
        }
        var continueFinal = reader.OptionalBool("continue_final_message") ?? false;
        var generationPrompt = reader.OptionalBool("add_generation_prompt") ?? !continueFinal;
        if (continueFinal && generationPrompt)
            throw RequestReader.Invalid("continue_final_message", "'continue_final_message' continues the last message, so it cannot be combined with 'add_generation_prompt': true.");
        return new ChatInput(ReadMessages(reader), toolsServed ? ToolSettings.Read(reader) : ToolSettings.Off, kwargs, generationPrompt, continueFinal);
    }

    /// <summary>How the output is parsed for tool calls: the template family's syntax, the generic JSON one when the tools went into a generic system message, or none.</summary>
    public ToolCallSyntax? OutputSyntax(IChatPromptRenderer renderer) =>
        !Tools.Active ? null : renderer.RendersTools ? ToolCallSyntax.ForTemplate(renderer.TemplateSource) : ToolCallSyntax.Of(ToolCallFormat.Generic);

    /// <summary>Renders the prompt; a template's refusal or failure is a 400 with its message.</summary>
    public string Render(IChatPromptRenderer renderer, ILogger logger)
    {
        var messages = Messages;
        var tools = Tools.TemplateTools;
        if (tools is not null && !renderer.RendersTools)
        {
            messages = GenericToolPrompt.Describe(messages, tools);
            tools = null;
            GenericToolPrompt.Warn(logger, renderer);
        }
        string prompt;
        try
        {
            prompt = renderer.Render(new ChatConversation(messages, tools, AddGenerationPrompt, TemplateKwargs));
        }
        catch (ChatTemplateException ex)
        {
            throw RequestReader.Invalid("messages", ex.Message, "chat_template_error");
        }
        if (tools is not null) Tools.CheckRendered(renderer, prompt);
        return ContinueFinalMessage ? OpenFinalMessage(prompt) : prompt;
    }

    /// <summary>The prompt cut right after the last message's content (vLLM's continue_final_message), so the model continues that message.</summary>
    private string OpenFinalMessage(string prompt)
    {
        var content = (string)Messages[^1]!["content"]!;
        var at = content.Length == 0 ? -1 : prompt.LastIndexOf(content, StringComparison.Ordinal);
        return at >= 0
            ? prompt[..(at + content.Length)]
            : throw RequestReader.Invalid("continue_final_message", "'continue_final_message' needs a last message whose content the chat template writes out as it is, and this one's is not.");
    }

    private static JsonArray ReadMessages(RequestReader reader)
    {
        if (reader.Get("messages") is not JsonArray messages)
            throw reader.Get("messages") is null
                ? RequestReader.Invalid("messages", "Missing required parameter: 'messages'.", "missing_required_parameter")
                : RequestReader.WrongType("messages", "an array", reader.Get("messages"));
        if (messages.Count == 0)
            throw RequestReader.Invalid("messages", "'messages' must contain at least one message.");

        var normalised = new JsonArray();
        for (var i = 0; i < messages.Count; i++)
        {
            var param = $"messages[{i}]";
            if (messages[i] is not JsonObject message) throw RequestReader.WrongType(param, "an object", messages[i]);
            var fields = new RequestReader(message);
            var role = RequestReader.Within(param, () => fields.RequiredString("role"));
            if (!Roles.Contains(role))
                throw RequestReader.Invalid($"{param}.role", $"Invalid role '{role}': expected one of {string.Join(", ", Roles)}.");

            var toolCalls = role == "assistant" ? ReadToolCalls(message["tool_calls"], $"{param}.tool_calls") : null;
            var output = new JsonObject
            {
                ["role"] = role,
                ["content"] = ReadContent(message["content"], $"{param}.content", allowMissing: role == "assistant"),
            };
            if (RequestReader.Within(param, () => fields.OptionalString("name")) is { } name) output["name"] = name;
            if (toolCalls is not null) output["tool_calls"] = toolCalls;
            if (role == "tool") output["tool_call_id"] = RequestReader.Within(param, () => fields.RequiredString("tool_call_id"));
            normalised.Add(output);
        }
        return normalised;
    }

    /// <summary>
    /// An assistant's earlier calls. OpenAI sends arguments as JSON text; chat templates expect an object
    /// (Qwen, Hermes and Llama templates write <c>arguments | tojson</c>), so text holding an object becomes one.
    /// </summary>
    private static JsonArray? ReadToolCalls(JsonNode? node, string param)
    {
        if (node is null) return null;
        if (node is not JsonArray calls) throw RequestReader.WrongType(param, "an array", node);
        var result = new JsonArray();
        for (var i = 0; i < calls.Count; i++)
        {
            var callParam = $"{param}[{i}]";
            if (calls[i] is not JsonObject call) throw RequestReader.WrongType(callParam, "an object", calls[i]);
            if (call["function"] is not JsonObject function) throw RequestReader.WrongType($"{callParam}.function", "an object", call["function"]);
            var fields = new RequestReader(function);
            var name = RequestReader.Within($"{callParam}.function", () => fields.RequiredString("name"));
            JsonNode? arguments = function["arguments"] switch
            {
                null => new JsonObject(),
                JsonValue v when v.TryGetValue(out string? text) => TryParseObject(text) ?? (JsonNode)JsonValue.Create(text),
                JsonObject o => o.DeepClone(),
                var other => throw RequestReader.WrongType($"{callParam}.function.arguments", "a string", other),
            };
            var entry = new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments } };
            if (new RequestReader(call).OptionalString("id") is { } id) entry["id"] = id;
            result.Add(entry);
        }
        return result;
    }

    private static JsonObject? TryParseObject(string text)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Content is a string or an array of text parts (joined with newlines); other part types are refused.</summary>
    /// <param name="textParts">The part types that hold text: chat's "text"; the Responses API's "input_text" and "output_text".</param>
    public static string ReadContent(JsonNode? content, string param, bool allowMissing, params string[] textParts)
    {
        switch (content)
        {
            case null when allowMissing:
                return "";
            case null:
                throw RequestReader.Invalid(param, $"Missing required parameter: '{param}'.", "missing_required_parameter");
            case JsonValue v when v.TryGetValue(out string? text):
                return text;
            case JsonArray parts:
                var joined = new StringBuilder();
                for (var i = 0; i < parts.Count; i++)
                {
                    var partParam = $"{param}[{i}]";
                    if (parts[i] is not JsonObject part) throw RequestReader.WrongType(partParam, "an object", parts[i]);
                    var fields = new RequestReader(part);
                    var type = RequestReader.Within(partParam, () => fields.RequiredString("type"));
                    if (!(textParts.Length == 0 ? type == "text" : textParts.Contains(type)))
                        throw RequestReader.Invalid($"{partParam}.type", $"Content parts of type '{type}' are not supported: this model reads text only.", "unsupported_content");
                    if (joined.Length > 0) joined.Append('\n');
                    joined.Append(RequestReader.Within(partParam, () => fields.RequiredString("text")));
                }
                return joined.ToString();
            default:
                throw RequestReader.WrongType(param, "a string or an array of content parts", content);
        }
    }
}
