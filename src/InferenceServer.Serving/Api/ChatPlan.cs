using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

/// <summary>
/// A chat conversation made ready for the engine: its prompt tokens, the settings with any forced-call grammar,
/// and how its output is read. Shared by every chat-shaped front door (chat completions, responses).
/// </summary>
internal sealed record ChatPlan(int[] Tokens, GenerationSettings Settings, OutputShape Output)
{
    /// <summary>
    /// A chat completions request read and prepared (messages, tools, generation settings, response format, logprobs),
    /// with its message count. Shared by /v1/chat/completions and the in-process chat client.
    /// </summary>
    public static (ChatPlan Plan, int Messages) Read(ResolvedRequest resolved, RequestReader reader, ILogger logger)
    {
        var model = resolved.Model;
        var input = ChatInput.Read(reader);
        var settings = GenerationSettings.Read(reader, "max_completion_tokens", model.Tokenizer.VocabularySize, toolsServed: true)
            .WithResponseFormat(reader, model.Grammars).WithChatLogprobs(reader);
        return (Prepare(resolved, input, settings, "messages", "response_format", logger), input.Messages.Count);
    }

    /// <param name="inputParam">The request field that holds the conversation, named in errors about the prompt.</param>
    /// <param name="formatParam">The request field that asked for an output format, named when it clashes with a forced call.</param>
    /// <param name="logger">Hears the warning when a template that renders no tools gets them in a generic system message.</param>
    public static ChatPlan Prepare(ResolvedRequest resolved, ChatInput input, GenerationSettings settings, string inputParam, string formatParam, ILogger logger)
    {
        var model = resolved.Model;
        var prompt = input.Render(model.ChatRenderer, logger);
        var syntax = input.OutputSyntax(model.ChatRenderer);
        var reasoning = resolved.Output.SplitReasoning ? ReasoningSyntax.ForTemplate(model.ChatRenderer.TemplateSource) : null;
        var output = new OutputShape(syntax, input.Tools.Parallel, reasoning, reasoning?.OpenedBy(prompt) ?? false);
        if (syntax is not null && input.Tools.Grammar(syntax, model.Grammars) is { } grammar)
        {
            if (settings.Sampling.Grammar is not null)
                throw RequestReader.Invalid(formatParam, "A response format cannot be combined with a forced tool call.");
            settings = settings with { Sampling = settings.Sampling with { Grammar = grammar } };
        }
        // With a response format its grammar holds the whole output, and strict tools add nothing to it.
        else if (syntax is not null && settings.Sampling.Grammar is null
                 && input.Tools.StrictGrammar(syntax, model.Grammars, reasoning, output.StartsInReasoning) is { } strict)
        {
            settings = settings with { Sampling = settings.Sampling with { LazyGrammar = strict } };
        }
        return new ChatPlan(resolved.Tokenize(prompt, inputParam), settings, output);
    }
}

/// <summary>
/// How the output is read: reasoning first when the template thinks (<paramref name="StartsInReasoning"/> when the
/// prompt opened it), then plain text or the template family's tool-call syntax (at most one call unless parallel).
/// </summary>
internal sealed record OutputShape(ToolCallSyntax? Syntax, bool Parallel, ReasoningSyntax? Reasoning = null, bool StartsInReasoning = false)
{
    /// <summary>Reads a whole output: its reasoning (empty when there is none) and its answer.</summary>
    public (string Reasoning, ParsedOutput Answer) Parse(string text)
    {
        var split = Reasoning is null ? new ReasoningSplit("", text) : ReasoningStreamParser.Split(Reasoning, StartsInReasoning, text);
        return (split.Reasoning, Syntax is null ? ParsedOutput.Text(split.Content) : Limit(Syntax.Parse(split.Content)));
    }

    /// <summary>A tool-call parser for one streamed output; null for plain text.</summary>
    public ToolCallStreamParser? NewStreamParser() => Syntax is null ? null : new ToolCallStreamParser(Syntax);

    /// <summary>A reasoning splitter for one streamed output; null when the template does not think (or reasoning stays inline).</summary>
    public ReasoningStreamParser? NewReasoningParser() => Reasoning is null ? null : new ReasoningStreamParser(Reasoning, StartsInReasoning);

    private ParsedOutput Limit(ParsedOutput parsed) =>
        Parallel || parsed.ToolCalls.Count <= 1 ? parsed : parsed with { ToolCalls = [parsed.ToolCalls[0]] };
}
