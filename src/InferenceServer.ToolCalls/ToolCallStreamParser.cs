using System.Text;

namespace InferenceServer.ToolCalls;

/// <summary>
/// What a <see cref="ToolCallStreamParser"/> releases: text for the user, or calls. Every call <c>i</c> is a
/// <see cref="CallStartEvent"/> (its name), then <see cref="ArgumentsDeltaEvent"/>s whose texts concatenate to
/// its arguments, then a <see cref="CallEvent"/> with the whole call.
/// </summary>
public abstract record ToolCallStreamEvent;
public sealed record ContentEvent(string Text) : ToolCallStreamEvent;
public sealed record CallStartEvent(int Index, string Name) : ToolCallStreamEvent;
public sealed record ArgumentsDeltaEvent(int Index, string Text) : ToolCallStreamEvent;
public sealed record CallEvent(int Index, ToolCall Call) : ToolCallStreamEvent;

/// <summary>
/// Splits a streamed output into content and calls. Content streams as it arrives, except a tail that
/// could be the start of a call marker, which waits until the next text decides. From the first marker
/// on, the output is held and parsed as a whole at <see cref="Finish"/>, so the calls equal what
/// <see cref="ToolCallSyntax.Parse"/> returns for the whole output however the text was chunked; meanwhile,
/// for families that write JSON arguments, each call is announced once its name is written and its arguments
/// stream in their compact form as they are generated (<see cref="PartialJson"/>), the rest following at the end.
/// Not thread-safe: one per stream.
/// </summary>
public sealed class ToolCallStreamParser(ToolCallSyntax syntax)
{
    private readonly StringBuilder _pending = new();
    private ToolCallSyntax.Start _start = ToolCallSyntax.Start.Undecided;
    private bool _inSection;
    // Streaming calls: their arguments sent so far, where the open one's arguments start, where to look for the next.
    private readonly List<(string Name, string Sent)> _streamed = [];
    private int _openArguments = -1;
    private int _searchFrom;
    private bool _streamingStopped;

    public IReadOnlyList<ToolCallStreamEvent> Push(string text)
    {
        _pending.Append(text);
        if (_inSection) return StreamCalls();
        if (_start == ToolCallSyntax.Start.Undecided)
        {
            _start = syntax.AtStart(_pending.ToString());
            switch (_start)
            {
                case ToolCallSyntax.Start.Undecided:
                    return [];
                case ToolCallSyntax.Start.Section:
                    _inSection = true;
                    return StreamCalls();
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
        for (var i = 0; i < parsed.ToolCalls.Count; i++)
        {
            var call = parsed.ToolCalls[i];
            var sent = "";
            if (i < _streamed.Count) sent = _streamed[i].Sent;
            else events.Add(new CallStartEvent(i, call.Name));
            // What streamed is a prefix of the parsed arguments (both compact): the rest follows.
            if (call.Arguments.StartsWith(sent, StringComparison.Ordinal) && call.Arguments.Length > sent.Length)
                events.Add(new ArgumentsDeltaEvent(i, call.Arguments[sent.Length..]));
            events.Add(new CallEvent(i, call));
        }
        // A call announced while streaming that the whole parse does not confirm still ends, with what was sent.
        for (var i = parsed.ToolCalls.Count; i < _streamed.Count; i++) events.Add(new CallEvent(i, new ToolCall(_streamed[i].Name, _streamed[i].Sent)));
        return events;
    }

    /// <summary>Announces calls whose names are written and sends their arguments' new certain text.</summary>
    private List<ToolCallStreamEvent> StreamCalls()
    {
        var events = new List<ToolCallStreamEvent>();
        if (syntax.CallHead is not { } head || _streamingStopped) return events;
        var section = _pending.ToString();
        while (true)
        {
            if (_openArguments >= 0)
            {
                if (PartialJson.Prefix(section, _openArguments) is not { } prefix)
                {
                    // Not JSON arguments after all: the parse at the end decides, and sends them whole.
                    _streamingStopped = true;
                    return events;
                }
                var (name, sent) = _streamed[^1];
                if (prefix.Prefix.Length > sent.Length && prefix.Prefix.StartsWith(sent, StringComparison.Ordinal))
                {
                    events.Add(new ArgumentsDeltaEvent(_streamed.Count - 1, prefix.Prefix[sent.Length..]));
                    _streamed[^1] = (name, prefix.Prefix);
                }
                if (prefix.End < 0) return events;
                _searchFrom = prefix.End;
                _openArguments = -1;
            }
            var match = head.Match(section, _searchFrom);
            if (!match.Success) return events;
            _streamed.Add((match.Groups["name"].Value.Trim(), ""));
            events.Add(new CallStartEvent(_streamed.Count - 1, _streamed[^1].Name));
            _openArguments = match.Index + match.Length;
        }
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
        List<ToolCallStreamEvent> events = [];
        if (release > 0)
        {
            _pending.Remove(0, release);
            events.Add(new ContentEvent(text[..release]));
        }
        if (_inSection) events.AddRange(StreamCalls());
        return events;
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
