using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

/// <summary>
/// A chat conversation made ready for the engine: its prompt tokens, the settings with any forced-call grammar,
/// and how its output is read. Shared by every chat-shaped front door (chat completions, responses).
/// </summary>
internal sealed record ChatPlan(int[] Tokens, GenerationSettings Settings, OutputShape Output)
{
    /// <param name="inputParam">The request field that holds the conversation, named in errors about the prompt.</param>
    /// <param name="formatParam">The request field that asked for an output format, named when it clashes with a forced call.</param>
    public static ChatPlan Prepare(ResolvedRequest resolved, ChatInput input, GenerationSettings settings, string inputParam, string formatParam)
    {
        var model = resolved.Model;
        var prompt = input.Render(model.ChatRenderer);
        var syntax = input.Tools.Active ? ToolCallSyntax.ForTemplate(model.ChatRenderer.TemplateSource) : null;
        if (syntax is not null && input.Tools.Grammar(syntax, model.Grammars) is { } grammar)
        {
            if (settings.Sampling.Grammar is not null)
                throw RequestReader.Invalid(formatParam, "A response format cannot be combined with a forced tool call.");
            settings = settings with { Sampling = settings.Sampling with { Grammar = grammar } };
        }
        return new ChatPlan(resolved.Tokenize(prompt, inputParam), settings, new OutputShape(syntax, input.Tools.Parallel));
    }
}

/// <summary>How the output is read: plain text, or the template family's tool-call syntax (at most one call unless parallel).</summary>
internal sealed record OutputShape(ToolCallSyntax? Syntax, bool Parallel)
{
    public ParsedOutput Parse(string text) => Syntax is null ? ParsedOutput.Text(text) : Limit(Syntax.Parse(text));

    /// <summary>A parser for one streamed output; null for plain text.</summary>
    public ToolCallStreamParser? NewStreamParser() => Syntax is null ? null : new ToolCallStreamParser(Syntax);

    private ParsedOutput Limit(ParsedOutput parsed) =>
        Parallel || parsed.ToolCalls.Count <= 1 ? parsed : parsed with { ToolCalls = [parsed.ToolCalls[0]] };
}
