using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Contracts;

namespace InferenceServer.Api;

/// <summary>
/// Tools for a chat template that does not render them (as llama-server does): a system message lists the
/// functions and asks for the reply shape the generic tool-call syntax parses, so every model can call tools.
/// </summary>
internal static partial class GenericToolPrompt
{
    private static readonly ConditionalWeakTable<IChatPromptRenderer, object> Warned = [];

    /// <summary>The messages with the tool definitions added to the first system message (or a new one first).</summary>
    public static JsonArray Describe(JsonArray messages, JsonArray tools)
    {
        var text = new StringBuilder("You can call the following tools. To call one or more of them, reply with only this JSON and nothing else:\n")
            .Append("{\"tool_calls\": [{\"name\": \"<function name>\", \"arguments\": {<the arguments as a JSON object>}}]}\n")
            .Append("Otherwise, answer the user as usual.\n\nTools:");
        foreach (var tool in tools) text.Append('\n').Append(tool?["function"]?.ToJsonString(ApiJson.Options));

        var described = (JsonArray)messages.DeepClone();
        if (described[0] is JsonObject { } first && (string?)first["role"] is "system" or "developer")
            first["content"] = $"{(string?)first["content"]}\n\n{text}";
        else
            described.Insert(0, new JsonObject { ["role"] = "system", ["content"] = text.ToString() });
        return described;
    }

    /// <summary>Warns once per template that tools are described generically.</summary>
    public static void Warn(ILogger logger, IChatPromptRenderer renderer)
    {
        if (Warned.TryAdd(renderer, true)) LogGeneric(logger, renderer.Name);
    }

    [LoggerMessage(LogLevel.Warning, "The chat template ({Template}) does not render tools: requests with tools describe them in a generic system message, " +
        "and the model's output is parsed as generic JSON tool calls. A template that renders tools (--chat-template) works better.")]
    private static partial void LogGeneric(ILogger logger, string template);
}
