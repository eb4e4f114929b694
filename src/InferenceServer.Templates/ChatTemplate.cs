using System.Text.Json.Nodes;

namespace InferenceServer.Templates;

/// <summary>
/// A Hugging Face chat template (a Jinja2 template) parsed once and rendered per request.
/// Renders byte for byte as transformers' <c>apply_chat_template</c> does: Jinja2's
/// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loop controls, the
/// <c>generation</c> tag, HF's <c>tojson</c>, <c>raise_exception</c> and <c>strftime_now</c>.
/// Thread-safety: immutable after <see cref="Parse"/>; <see cref="Render"/> may run concurrently.
/// </summary>
public sealed class ChatTemplate
{
    private readonly Parsing.TemplateNode _root;

    private ChatTemplate(Parsing.TemplateNode root) => _root = root;

    /// <exception cref="TemplateSyntaxException">The source is not a valid template.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var tokens = Lexing.Lexer.Tokenize(source);
        return new ChatTemplate(new Parsing.Parser(tokens).ParseTemplate());
    }

    /// <summary>Renders with <paramref name="context"/> as the template's variables (deep-copied, so the caller's JSON is never modified).</summary>
    /// <exception cref="TemplateRaisedException">The template called <c>raise_exception</c>.</exception>
    /// <exception cref="TemplateRenderException">Any other runtime error (undefined attribute access, type errors, sandbox violations).</exception>
    public string Render(JsonObject context, TemplateRenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var clock = options?.Clock ?? TimeProvider.System;
        return new Runtime.Interpreter(clock).Render(_root, Runtime.JsonBridge.FromJsonObject(context));
    }
}

/// <param name="Clock">The clock behind <c>strftime_now</c> (local time); the system clock when null.</param>
public sealed record TemplateRenderOptions(TimeProvider? Clock = null);

/// <summary>The template source is not valid Jinja.</summary>
public sealed class TemplateSyntaxException(string message, int line)
    : Exception($"{message} (line {line})")
{
    public int Line { get; } = line;
}

/// <summary>Rendering failed (the Jinja2 equivalents: UndefinedError, TypeError, SecurityError, ...).</summary>
public class TemplateRenderException(string message) : Exception(message);

/// <summary>The template called <c>raise_exception(message)</c>; <see cref="Exception.Message"/> is the template's message.</summary>
public sealed class TemplateRaisedException(string message) : TemplateRenderException(message);
