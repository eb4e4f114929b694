using System.Text;

namespace InferenceServer.ToolCalls;

/// <summary>
/// How a thinking model family marks its reasoning in the output: the text that opens it, the text that closes
/// it, and what the family writes between the reasoning and the answer (gpt-oss's final channel header).
/// Reasoning is recognised only at the start of the output, or when the prompt already opened it (DeepSeek-R1's
/// and Qwen3's templates end the prompt with <c>&lt;think&gt;</c>). Immutable and thread-safe.
/// </summary>
public sealed record ReasoningSyntax(string Open, string Close, string AnswerHeader = "")
{
    /// <summary>The families, most specific markers first (a template that mentions several uses the first found).</summary>
    private static readonly ReasoningSyntax[] Families =
    [
        new("<|channel|>analysis<|message|>", "<|end|>", "<|start|>assistant<|channel|>final<|message|>"),
        new("<seed:think>", "</seed:think>"),
        new("<|START_THINKING|>", "<|END_THINKING|>"),
        new("<|inner_prefix|>", "<|inner_suffix|>"),
        new("<|channel>thought", "<channel|>"),
        new("[THINK]", "[/THINK]"),
        new("<think>", "</think>"),
    ];

    /// <summary>The reasoning markers a Jinja chat template writes; null for a template that does not think.</summary>
    public static ReasoningSyntax? ForTemplate(string? templateSource) =>
        string.IsNullOrEmpty(templateSource) ? null : Families.FirstOrDefault(f => templateSource.Contains(f.Open, StringComparison.Ordinal));

    /// <summary>Whether the rendered prompt ends inside an opened reasoning block, so that the output starts in it.</summary>
    public bool OpenedBy(string prompt) => prompt.TrimEnd().EndsWith(Open, StringComparison.Ordinal);
}

/// <summary>What a <see cref="ReasoningStreamParser"/> releases: reasoning text or answer text, in output order.</summary>
public readonly record struct ReasoningSplit(string Reasoning, string Content);

/// <summary>
/// Splits a streamed output into reasoning and answer. Text streams as it arrives, except a tail that could be
/// the start of a marker, which waits for the next text to decide; however the output was chunked, the pieces
/// concatenate to what <see cref="Split"/> returns for the whole. Not thread-safe: one per stream.
/// </summary>
public sealed class ReasoningStreamParser
{
    private enum State { AtStart, Reasoning, AfterClose, Content }

    private readonly ReasoningSyntax _syntax;
    private readonly StringBuilder _pending = new();
    private State _state;
    // The whitespace a model writes after the opening marker is no part of its reasoning.
    private bool _reasoningStarted;

    public ReasoningStreamParser(ReasoningSyntax syntax, bool startsInReasoning)
    {
        _syntax = syntax;
        _state = startsInReasoning ? State.Reasoning : State.AtStart;
    }

    /// <summary>Splits a whole output at once.</summary>
    public static ReasoningSplit Split(ReasoningSyntax syntax, bool startsInReasoning, string output)
    {
        var parser = new ReasoningStreamParser(syntax, startsInReasoning);
        var (first, rest) = (parser.Push(output), parser.Finish());
        return new ReasoningSplit(first.Reasoning + rest.Reasoning, first.Content + rest.Content);
    }

    public ReasoningSplit Push(string text)
    {
        _pending.Append(text);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (Step(reasoning, content, final: false)) { }
        return new ReasoningSplit(reasoning.ToString(), content.ToString());
    }

    /// <summary>Releases what was held: an unclosed reasoning block stays reasoning (cut at the token limit).</summary>
    public ReasoningSplit Finish()
    {
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (Step(reasoning, content, final: true)) { }
        var rest = _pending.ToString();
        _pending.Clear();
        if (_state == State.Reasoning) reasoning.Append(rest);
        else content.Append(rest);
        return new ReasoningSplit(reasoning.ToString(), content.ToString());
    }

    /// <summary>Moves what can be decided out of the pending text; false when it must wait for more.</summary>
    private bool Step(StringBuilder reasoning, StringBuilder content, bool final)
    {
        var text = _pending.ToString();
        switch (_state)
        {
            case State.AtStart:
            {
                var start = text.Length - text.TrimStart().Length;
                var head = text[start..];
                if (head.StartsWith(_syntax.Open, StringComparison.Ordinal))
                {
                    _pending.Remove(0, start + _syntax.Open.Length);
                    _state = State.Reasoning;
                    return true;
                }
                if (!final && (head.Length == 0 || _syntax.Open.StartsWith(head, StringComparison.Ordinal))) return false;
                _state = State.Content;
                return true;
            }
            case State.Reasoning:
            {
                if (!_reasoningStarted)
                {
                    var trimmed = text.TrimStart();
                    if (trimmed.Length == 0 && !final) return false;
                    _pending.Remove(0, text.Length - trimmed.Length);
                    text = trimmed;
                    _reasoningStarted = true;
                }
                var close = text.IndexOf(_syntax.Close, StringComparison.Ordinal);
                if (close >= 0)
                {
                    reasoning.Append(text[..close].TrimEnd());
                    _pending.Remove(0, close + _syntax.Close.Length);
                    _state = State.AfterClose;
                    return true;
                }
                var keep = final ? 0 : HeldBack(text, _syntax.Close);
                reasoning.Append(text[..(text.Length - keep)]);
                _pending.Remove(0, text.Length - keep);
                return false;
            }
            case State.AfterClose:
            {
                // The answer starts after the blank lines (and, for gpt-oss, the final channel's header) that follow the reasoning.
                var start = text.Length - text.TrimStart().Length;
                var head = text[start..];
                if (_syntax.AnswerHeader.Length > 0 && head.StartsWith(_syntax.AnswerHeader, StringComparison.Ordinal))
                {
                    _pending.Remove(0, start + _syntax.AnswerHeader.Length);
                    _state = State.Content;
                    return true;
                }
                if (!final && (head.Length == 0 || (_syntax.AnswerHeader.Length > 0 && _syntax.AnswerHeader.StartsWith(head, StringComparison.Ordinal)))) return false;
                _pending.Remove(0, start);
                _state = State.Content;
                return true;
            }
            default:
                content.Append(text);
                _pending.Clear();
                return false;
        }
    }

    /// <summary>How much of the end of <paramref name="text"/> could be the start of <paramref name="marker"/> (or whitespace before it).</summary>
    private static int HeldBack(string text, string marker)
    {
        for (var length = Math.Min(marker.Length - 1, text.Length); length > 0; length--)
            if (text.AsSpan(text.Length - length).SequenceEqual(marker.AsSpan(0, length)))
                return length + TrailingWhitespace(text[..^length]);
        return TrailingWhitespace(text);
    }

    private static int TrailingWhitespace(string text) => text.Length - text.TrimEnd().Length;
}
