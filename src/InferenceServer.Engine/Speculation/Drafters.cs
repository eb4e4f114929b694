namespace InferenceServer.Engine;

/// <summary>Proposes the tokens a sequence is likely to generate next. One per sequence; engine loop thread only.</summary>
internal interface IDrafter
{
    DraftKind Kind { get; }

    /// <summary>
    /// Writes up to <c>draft.Length</c> proposed continuations of <paramref name="history"/> (every token of the
    /// sequence, the one being fed this step last, of which the last <paramref name="generated"/> were generated);
    /// returns how many.
    /// </summary>
    int Propose(ReadOnlySpan<int> history, int generated, Span<int> draft);

    /// <summary>
    /// The first <paramref name="verified"/> tokens of the last proposal (all that fitted in the step) were verified
    /// and the first <paramref name="accepted"/> of them kept.
    /// </summary>
    void Settled(int verified, int accepted);
}

/// <summary>Finds where the end of a token sequence occurred before, to copy what followed it.</summary>
internal static class NgramLookup
{
    /// <summary>
    /// The position just after the latest occurrence in <paramref name="source"/>[..<paramref name="searchEnd"/>)
    /// of the last <paramref name="n"/> tokens of <paramref name="context"/>, at or after <paramref name="from"/>; -1 if none.
    /// </summary>
    public static int Latest(ReadOnlySpan<int> source, ReadOnlySpan<int> context, int n, int searchEnd, int from = 0)
    {
        if (context.Length < n) return -1;
        var key = context[^n..];
        for (var end = searchEnd; end - n >= from; end--)
            if (source.Slice(end - n, n).SequenceEqual(key)) return end;
        return -1;
    }

    /// <summary>As <see cref="Latest"/>, the earliest occurrence instead.</summary>
    public static int Earliest(ReadOnlySpan<int> source, ReadOnlySpan<int> context, int n, int from)
    {
        if (context.Length < n) return -1;
        var key = context[^n..];
        for (var start = Math.Max(0, from); start + n <= source.Length; start++)
            if (source.Slice(start, n).SequenceEqual(key)) return start + n;
        return -1;
    }
}

/// <summary>
/// Prompt lookup (llama.cpp's ngram drafts, vLLM's [ngram]): the longest recent n-gram that ends the sequence
/// and occurred earlier in its prompt or output proposes what followed it there. Copy-heavy work (edits,
/// summaries, RAG answers quoting their sources) drafts long runs; other work proposes nothing and costs nothing.
/// </summary>
internal sealed class NgramDrafter : IDrafter
{
    // One- token matches are too often chance; four tokens are specific enough.
    private const int ShortestNgram = 2;
    private const int LongestNgram = 4;

    public DraftKind Kind => DraftKind.Ngram;

    public int Propose(ReadOnlySpan<int> history, int generated, Span<int> draft)
    {
        for (var n = Math.Min(LongestNgram, history.Length - 1); n >= ShortestNgram; n--)
        {
            // Occurrences ending before the last token: the sequence's own end matches itself.
            var after = NgramLookup.Latest(history, history, n, history.Length - 1);
            if (after < 0) continue;
            var count = Math.Min(draft.Length, history.Length - after);
            history.Slice(after, count).CopyTo(draft);
            return count;
        }
        return 0;
    }

    public void Settled(int verified, int accepted)
    {
    }
}

/// <summary>
/// OpenAI's Predicted Outputs: the request's prediction is the draft. The drafter follows its place in the
/// prediction's text byte by byte, so a model that spells a predicted token with other tokens ("wo", "u", "ld " for
/// "would ") is followed through it: nothing is proposed until the output reaches the end of that predicted token,
/// then the prediction goes on from there. When the output leaves the text (an edit), the drafter finds its place again
/// from the last generated tokens (the answer usually returns to the prediction after an edit), and, when they match
/// nowhere, assumes the edit replaced one predicted token.
/// </summary>
internal sealed class PredictionDrafter : IDrafter
{
    private const int LongestNgram = 4;

    private readonly int[] _prediction;
    private readonly Func<int, byte[]> _pieces;
    // The prediction's bytes, and where each of its tokens starts in them (one more entry: the end).
    private readonly byte[] _text;
    private readonly int[] _starts;

    // Where the output so far ends in _text while it has matched it byte for byte since the last place found; -1 when
    // it left it. _followed: the output tokens compared so far.
    private int _textAt;
    private int _followed;

    // Where the last proposal started in the prediction; the next token expected after the verified part, and whether
    // the model disagreed with the draft there.
    private int _proposedAt;
    private int _confirmed;
    private bool _disagreed;

    public PredictionDrafter(int[] prediction, Func<int, byte[]> pieces)
    {
        _prediction = prediction;
        _pieces = pieces;
        var bytes = prediction.Select(pieces).ToArray();
        _starts = new int[prediction.Length + 1];
        for (var i = 0; i < prediction.Length; i++) _starts[i + 1] = _starts[i] + bytes[i].Length;
        _text = bytes.SelectMany(b => b).ToArray();
    }

    public DraftKind Kind => DraftKind.Prediction;

    public int Propose(ReadOnlySpan<int> history, int generated, Span<int> draft)
    {
        var at = generated == 0 ? 0 : Place(history[^generated..]);
        if (at < 0) return 0;
        var count = Math.Clamp(_prediction.Length - at, 0, draft.Length);
        _prediction.AsSpan(at, count).CopyTo(draft);
        _proposedAt = at;
        return count;
    }

    /// <summary>The prediction index the next generated token is expected to match; -1 inside a predicted token.</summary>
    private int Place(ReadOnlySpan<int> output)
    {
        for (; _followed < output.Length && _textAt >= 0; _followed++)
        {
            var piece = _pieces(output[_followed]);
            _textAt = _textAt + piece.Length <= _text.Length && piece.AsSpan().SequenceEqual(_text.AsSpan(_textAt, piece.Length))
                ? _textAt + piece.Length
                : -1;
        }
        if (_textAt >= 0)
        {
            var index = Array.BinarySearch(_starts, _textAt);
            return index >= 0 ? index : -1;
        }
        var at = Align(output);
        (_textAt, _followed) = (_starts[at], output.Length);
        return at;
    }

    /// <summary>After the output left the prediction's text: the prediction index the next generated token is expected to match.</summary>
    private int Align(ReadOnlySpan<int> output)
    {
        // The last proposal ran to its end and the token after it was generated: the place is known when it matches.
        // (After a disagreement the same test would pass inside a run of one repeated token and stall on the edit.)
        if (!_disagreed && _confirmed < _prediction.Length && _confirmed > 0 && _prediction[_confirmed - 1] == output[^1]) return _confirmed;
        // After a disagreement: the nearest place past the refused predicted token where the last generated tokens
        // occur (an edit moves the answer a little forward; the longest match could jump a whole run of repeats).
        var nearest = -1;
        if (_disagreed)
            for (var n = Math.Min(LongestNgram, output.Length); n >= 1; n--)
            {
                var after = NgramLookup.Earliest(_prediction, output, n, _confirmed + 2 - n);
                if (after >= 0 && (nearest < 0 || after < nearest)) nearest = after;
            }
        if (nearest >= 0) return nearest;
        // Else near the verified place first, longest match first, then anywhere.
        for (var n = Math.Min(LongestNgram, output.Length); n >= 1; n--)
        {
            var after = NgramLookup.Earliest(_prediction, output, n, _confirmed - n);
            if (after < 0 && n > 1) after = NgramLookup.Latest(_prediction, output, n, _prediction.Length);
            if (after >= 0) return after;
        }
        return Math.Min(_confirmed + 1, _prediction.Length);
    }

    public void Settled(int verified, int accepted)
    {
        // Every verified token accepted means the token after them was generated from the model alone: expected at
        // the next index (a draft cut short to fit the step included).
        _disagreed = accepted < verified;
        _confirmed = _proposedAt + accepted + (_disagreed ? 0 : 1);
    }
}
