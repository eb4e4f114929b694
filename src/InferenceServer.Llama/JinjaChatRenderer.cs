using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.Contracts;
using InferenceServer.Templates;

namespace InferenceServer.Llama;

/// <summary>
/// Renders chats with a Hugging Face Jinja chat template, as transformers' apply_chat_template does:
/// the variables are messages, tools, add_generation_prompt, bos_token and eos_token (the vocabulary's
/// texts), plus any extra kwargs. Thread-safe: the parsed template is immutable.
/// </summary>
internal sealed partial class JinjaChatRenderer : IChatPromptRenderer
{
    private readonly ChatTemplate _template;
    private readonly string _bosToken;
    private readonly string _eosToken;

    /// <exception cref="TemplateSyntaxException">The source is not a valid template.</exception>
    public JinjaChatRenderer(string source, string origin, string bosToken, string eosToken)
    {
        _template = ChatTemplate.Parse(source);
        TemplateSource = source;
        Name = $"Jinja template from {origin}";
        RendersTools = ToolsVariable().IsMatch(source);
        _bosToken = bosToken;
        _eosToken = eosToken;
    }

    public string Name { get; }
    public string? TemplateSource { get; }
    public bool RendersTools { get; }

    public string Render(ChatConversation conversation)
    {
        var context = new JsonObject();
        if (conversation.ExtraContext is { } extra)
            foreach (var (key, value) in extra) context[key] = value?.DeepClone();
        context["messages"] = conversation.Messages.DeepClone();
        if (conversation.Tools is { } tools) context["tools"] = tools.DeepClone();
        context["add_generation_prompt"] = conversation.AddGenerationPrompt;
        context["bos_token"] = _bosToken;
        context["eos_token"] = _eosToken;
        try
        {
            return _template.Render(context);
        }
        catch (TemplateRaisedException ex)
        {
            throw new ChatTemplateException(ex.Message, ex);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // TemplateRenderException, and anything a template bug could surface: a 400, never a crash.
            throw new ChatTemplateException($"The chat template failed to render this conversation: {ex.Message}", ex);
        }
    }

    [GeneratedRegex(@"\btools\b")]
    private static partial Regex ToolsVariable();
}
