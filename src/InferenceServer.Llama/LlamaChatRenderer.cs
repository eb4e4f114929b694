using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using LLama;

namespace InferenceServer.Llama;

/// <summary>
/// Renders chats with one of llama.cpp's built-in template families (LLamaTemplate: chatml, llama3,
/// mistral-v7 …). It runs no Jinja and renders no tools: tool calls and tool results are flattened
/// into the message text.
/// </summary>
internal sealed class LlamaChatRenderer(string family) : IChatPromptRenderer
{
    public const string Fallback = "chatml";

    public string Name => $"llama.cpp built-in '{family}'";
    public string? TemplateSource => null;
    public bool RendersTools => false;

    /// <summary>Null when llama.cpp knows the family name, else why not.</summary>
    public static string? Check(string family)
    {
        try
        {
            new LlamaChatRenderer(family).Render(new ChatConversation([new JsonObject { ["role"] = "user", ["content"] = "u" }], null, true));
            return null;
        }
        catch (ChatTemplateException ex)
        {
            return ex.Message;
        }
    }

    public string Render(ChatConversation conversation)
    {
        // LLamaTemplate holds native buffers and is not thread-safe: one per render.
        var template = new LLamaTemplate(family);
        foreach (var message in conversation.Messages)
        {
            var role = (string)message!["role"]!;
            template.Add(role == "developer" ? "system" : role, Flatten(message.AsObject()));
        }
        template.AddAssistant = conversation.AddGenerationPrompt;
        try
        {
            return Encoding.UTF8.GetString(template.Apply());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ChatTemplateException($"llama.cpp cannot apply the built-in chat template '{family}': {ex.Message}", ex);
        }
    }

    private static string Flatten(JsonObject message)
    {
        var text = message["content"]?.GetValue<string>() ?? "";
        if (message["tool_calls"] is JsonArray calls && calls.Count > 0)
            text += (text.Length > 0 ? "\n" : "") + calls.ToJsonString();
        return text;
    }
}
