using System.Text;

namespace InferenceServer.Engine;

/// <summary>
/// Finds stop sequences in streamed text. Text that could still turn out to be the start of a stop
/// sequence is held back, so a stop sequence split across tokens is never emitted.
/// </summary>
internal sealed class StopMatcher(IReadOnlyList<string> stops)
{
    private readonly StringBuilder _pending = new();

    public bool Stopped { get; private set; }

    /// <summary>The stop sequence that ended the text (the earliest in it), once <see cref="Stopped"/>.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds text; returns what can be emitted now. After a match, returns the text before it and sets <see cref="Stopped"/>.</summary>
    public string Push(string text)
    {
        if (stops.Count == 0) return text;
        _pending.Append(text);
        var pending = _pending.ToString();

        var first = -1;
        foreach (var stop in stops)
        {
            var at = pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) (first, Matched) = (at, stop);
        }
        if (first >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return pending[..first];
        }

        var held = 0;
        foreach (var stop in stops)
            held = Math.Max(held, LongestSuffixThatStarts(pending, stop));
        _pending.Clear().Append(pending, pending.Length - held, held);
        return pending[..^held];
    }

    /// <summary>Releases held-back text when generation ends without a match.</summary>
    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }

    private static int LongestSuffixThatStarts(string text, string stop)
    {
        for (var length = Math.Min(stop.Length - 1, text.Length); length > 0; length--)
            if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                return length;
        return 0;
    }
}
