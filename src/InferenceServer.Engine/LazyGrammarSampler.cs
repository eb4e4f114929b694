using System.Text;

namespace InferenceServer.Engine;

/// <summary>
/// Samples one request under a <see cref="LazyGrammar"/>: with the request's own sampler until the output writes a
/// trigger, then with a grammar sampler fed the output from the trigger's first character (the token it begins in
/// included, whose earlier text the grammar is told of with <see cref="SamplingGrammar.After"/>), and, when the grammar is
/// complete and may re-arm, with its own sampler again. Triggers are found in the tokens' bytes, as llama.cpp finds them
/// in token pieces. The free sampler only ever sees the steps it samples, so the text before a trigger is the text
/// the request would have without the grammar. Every token this sampler returns is one the request keeps (the engine
/// drops none but those after an ending), so speculative decoding, which samples draft rows one after another and
/// stops at the first that differs, leaves it in step with the output.
/// Engine loop thread only.
/// </summary>
internal sealed class LazyGrammarSampler(ITokenSampler free, SamplingParameters parameters, IModelExecutor executor, ITokenizer tokenizer) : ITokenSampler
{
    private readonly LazyGrammar _lazy = parameters.LazyGrammar ?? throw new ArgumentException("No lazy grammar.", nameof(parameters));
    private readonly byte[][] _markers = parameters.LazyGrammar.Markers.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly byte[][] _openings = parameters.LazyGrammar.Openings.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly int _longestMarker = parameters.LazyGrammar.Markers.Select(Encoding.UTF8.GetByteCount).DefaultIfEmpty(0).Max();
    private readonly byte[] _reasoningOpen = Encoding.UTF8.GetBytes(parameters.LazyGrammar.Reasoning?.Open ?? "");
    private readonly byte[] _reasoningClose = Encoding.UTF8.GetBytes(parameters.LazyGrammar.Reasoning?.Close ?? "");
    // The output's bytes, and where each sampled token's piece starts in them.
    private readonly List<byte> _output = [];
    private readonly List<(int Token, int Start)> _tokens = [];
    // Where the answer starts (after a leading reasoning block); -1 while that is undecided.
    private int _answerStart = -1;
    private bool _openingsArmed = parameters.LazyGrammar.Openings.Count > 0;
    private int _searchFrom;
    // Where the search for the reasoning block's end resumes (it may not end before).
    private int _closeSearchFrom;
    private IGrammarSampler? _constrained;

    public int Sample(int batchIndex)
    {
        if (_constrained is { } grammar)
        {
            var forced = grammar.Sample(batchIndex);
            if (!grammar.Complete || !_lazy.Rearm)
            {
                Record(forced);
                return forced;
            }
            // The call closed: free again, looking for the next marker after it.
            grammar.Dispose();
            _constrained = null;
            _searchFrom = _output.Count;
        }
        var token = free.Sample(batchIndex);
        // The end of generation opens nothing: its piece (a template's end marker) is no text of the answer.
        if (tokenizer.IsEndOfGeneration(token)) return token;
        Record(token);
        if (FindTrigger() is { } trigger) Constrain(trigger);
        return token;
    }

    private void Record(int token)
    {
        _tokens.Add((token, _output.Count));
        _output.AddRange(tokenizer.PieceBytes(token));
    }

    /// <summary>Where the first trigger in the output begins; null while there is none.</summary>
    private int? FindTrigger()
    {
        if (!AnswerStarted()) return null;
        if (_openingsArmed)
        {
            var start = _answerStart;
            while (start < _output.Count && _output[start] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') start++;
            var head = AsSpan()[start..];
            var undecided = head.Length == 0;
            foreach (var opening in _openings)
            {
                if (head.StartsWith(opening)) return start;
                // Undecided while the answer so far could still become an opening.
                undecided |= opening.AsSpan().StartsWith(head);
            }
            _openingsArmed = undecided;
        }
        var from = Math.Max(_searchFrom, _answerStart);
        int? first = null;
        foreach (var marker in _markers)
            if (AsSpan()[from..].IndexOf(marker) is >= 0 and var at && (first is null || from + at < first)) first = from + at;
        // No marker ends before the last few bytes: the next search starts where one could still begin.
        if (first is null && _markers.Length > 0) _searchFrom = Math.Max(from, _output.Count - _longestMarker + 1);
        return first;
    }

    /// <summary>Whether the answer has begun: triggers in a leading reasoning block are no calls.</summary>
    private bool AnswerStarted()
    {
        if (_answerStart >= 0) return true;
        if (_lazy.Reasoning is not { } reasoning)
        {
            _answerStart = 0;
            return true;
        }
        var text = AsSpan();
        var trimmed = text.TrimStart(" \n\r\t"u8);
        if (!reasoning.StartsInside && !trimmed.StartsWith(_reasoningOpen))
        {
            if (_reasoningOpen.AsSpan().StartsWith(trimmed)) return false; // it may still open
            _answerStart = 0;
            return true;
        }
        var close = text[_closeSearchFrom..].IndexOf(_reasoningClose);
        if (close < 0)
        {
            _closeSearchFrom = Math.Max(_closeSearchFrom, text.Length - _reasoningClose.Length + 1);
            return false;
        }
        _answerStart = _closeSearchFrom + close + _reasoningClose.Length;
        return true;
    }

    /// <summary>Switches to the grammar at <paramref name="trigger"/> and feeds it the tokens written since.</summary>
    private void Constrain(int trigger)
    {
        // Openings count at the start of the answer only: after this call, only markers open another.
        _openingsArmed = false;
        var first = _tokens.FindLastIndex(t => t.Start <= trigger);
        var before = Encoding.UTF8.GetString(AsSpan()[_tokens[first].Start..trigger]);
        var grammar = before.Length == 0 ? _lazy.Grammar : _lazy.Grammar.After(before);
        var constrained = executor.CreateGrammarSampler(parameters with { Grammar = grammar, LazyGrammar = null });
        foreach (var (token, _) in _tokens.Skip(first))
        {
            if (constrained.TryAccept(token)) continue;
            constrained.Dispose();
            throw new InvalidOperationException("The model opened a tool call in a form the strict tools' grammar does not allow; generation stopped.");
        }
        _constrained = constrained;
    }

    private ReadOnlySpan<byte> AsSpan() => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_output);

    public void Dispose()
    {
        _constrained?.Dispose();
        free.Dispose();
    }
}
