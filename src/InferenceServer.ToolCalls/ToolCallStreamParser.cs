using System.Text;

namespace InferenceServer.ToolCalls;

/// <summary>What a <see cref="ToolCallStreamParser"/> releases: text for the user, or a finished call.</summary>
public abstract record ToolCallStreamEvent;
public sealed record ContentEvent(string Text) : ToolCallStreamEvent;
public sealed record CallEvent(int Index, ToolCall Call) : ToolCallStreamEvent;

/// <summary>
/// Splits a streamed output into content and calls. Content streams as it arrives, except a tail that
/// could be the start of a call marker, which waits until the next text decides. From the first marker
/// on, the output is held and parsed as a whole at <see cref="Finish"/>, so the calls equal what
/// <see cref="ToolCallSyntax.Parse"/> returns for the whole output however the text was chunked.
/// Not thread-safe: one per stream.
/// </summary>
public sealed class ToolCallStreamParser(ToolCallSyntax syntax)
{
    private readonly StringBuilder _pending = new();
    private ToolCallSyntax.Start _start = ToolCallSyntax.Start.Undecided;
    private bool _inSection;

    public IReadOnlyList<ToolCallStreamEvent> Push(string text)
    {
        _pending.Append(text);
        if (_inSection) return [];
        if (_start == ToolCallSyntax.Start.Undecided)
        {
            _start = syntax.AtStart(_pending.ToString());
            switch (_start)
            {
                case ToolCallSyntax.Start.Undecided:
                    return [];
                case ToolCallSyntax.Start.Section:
                    _inSection = true;
                    return [];
                default:
                    // Functionary's "all\n" says that text for the user follows; it is not part of the text.
                    _pending.Remove(0, syntax is FunctionaryV3Syntax ? FunctionaryV3Syntax.HeaderLength(_pending.ToString()) : 0);
                    break;
            }
        }
        return ReleaseContent();
    }

    public IReadOnlyList<ToolCallStreamEvent> Finish()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        if (!_inSection)
            return rest.Length > 0 && (_start != ToolCallSyntax.Start.Undecided || rest.Trim().Length > 0) ? [new ContentEvent(rest)] : [];
        var parsed = syntax.Parse(rest);
        var events = new List<ToolCallStreamEvent>();
        if (parsed.Content.Length > 0) events.Add(new ContentEvent(parsed.Content));
        for (var i = 0; i < parsed.ToolCalls.Count; i++) events.Add(new CallEvent(i, parsed.ToolCalls[i]));
        return events;
    }

    private IReadOnlyList<ToolCallStreamEvent> ReleaseContent()
    {
        var text = _pending.ToString();
        var marker = syntax.Markers.Select(m => text.IndexOf(m, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        int release;
        if (marker >= 0)
        {
            _inSection = true;
            release = text[..marker].TrimEnd().Length;
        }
        else
        {
            release = text.Length - LongestMarkerPrefixAtEnd(text);
        }
        if (release == 0) return [];
        _pending.Remove(0, release);
        return [new ContentEvent(text[..release])];
    }

    private int LongestMarkerPrefixAtEnd(string text)
    {
        var longest = 0;
        foreach (var marker in syntax.Markers)
            for (var length = Math.Min(marker.Length - 1, text.Length); length > longest; length--)
                if (text.AsSpan(text.Length - length).SequenceEqual(marker.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
        return longest;
    }
}
