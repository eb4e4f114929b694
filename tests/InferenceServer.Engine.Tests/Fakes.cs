using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Engine.Tests;

/// <summary>
/// A model whose next token (by default the letter after the one at its position: it continues the alphabet)
/// is a pure function of the last token fed and its position, so tests can
/// predict every output. Token 0 is end-of-generation; other tokens are characters.
/// </summary>
internal sealed class FakeExecutor(ModelLimits limits, Func<int, int, int>? next = null) : IModelExecutor
{
    private readonly Func<int, int, int> _next = next ?? ((_, position) => 'a' + (position + 1) % 26);
    private IReadOnlyList<BatchToken> _last = [];

    public ModelLimits Limits { get; } = limits;
    public List<IReadOnlyList<BatchToken>> Batches { get; } = [];
    public FakeKvCache Kv { get; } = new();

    /// <summary>When set, Decode blocks until it is signalled: lets a test hold requests in flight.</summary>
    public ManualResetEventSlim? Gate { get; set; }

    /// <summary>When set, every decode takes <see cref="DecodeCost"/> of its token count on this clock (and no real time).</summary>
    public SteppingClock? Clock { get; init; }

    public Func<int, TimeSpan> DecodeCost { get; init; } = tokens => TimeSpan.FromMilliseconds(10 + 0.1 * tokens);

    /// <summary>What each row of logits read adds to a decode (a CPU computes the output layer only for those rows).</summary>
    public TimeSpan RowCost { get; init; }

    public void Decode(IReadOnlyList<BatchToken> batch)
    {
        Gate?.Wait(TimeSpan.FromSeconds(30));
        Clock?.Advance(DecodeCost(batch.Count) + RowCost * batch.Count(t => t.WantLogits));
        lock (Batches) Batches.Add(batch.ToArray());
        _last = batch.ToArray();
        Kv.Decoded(batch);
    }

    /// <summary>Every adapter set applied, in order.</summary>
    public List<AdapterSet> AppliedAdapters { get; } = [];

    public void ApplyAdapters(AdapterSet adapters)
    {
        lock (Batches) AppliedAdapters.Add(adapters);
    }

    /// <summary>Sampled (non-greedy) requests draw from <see cref="Logits"/> with the managed sampler instead of taking the continuation.</summary>
    public bool DrawsFromLogits { get; init; }

    public ITokenSampler CreateSampler(SamplingParameters parameters) =>
        DrawsFromLogits && !parameters.IsGreedy ? new DrawingSampler(this, new LogitsSampler(parameters)) : new Sampler(this);

    /// <summary>The tokenizer whose pieces grammar samplers check tokens against.</summary>
    public FakeTokenizer Tokenizer { get; init; } = new();

    /// <summary>Every grammar sampler created, in order (a lazy grammar creates one at each trigger).</summary>
    public List<FakeGrammarSampler> GrammarSamplers { get; } = [];

    public IGrammarSampler CreateGrammarSampler(SamplingParameters parameters)
    {
        var sampler = new FakeGrammarSampler(FakeGrammarSampler.Language(parameters.Grammar!), Tokenizer.Piece);
        GrammarSamplers.Add(sampler);
        return sampler;
    }

    private sealed class DrawingSampler(FakeExecutor owner, LogitsSampler sampler) : ITokenSampler
    {
        public int Sample(int batchIndex) => sampler.Sample(owner.Logits(batchIndex));

        public void Dispose() => sampler.Dispose();
    }

    /// <summary>The token the model continues with gets logit 10, the one after it 5, every other 0.</summary>
    public ReadOnlySpan<float> Logits(int batchIndex)
    {
        var fed = _last[batchIndex];
        if (!fed.WantLogits) throw new InvalidOperationException("Read a row without logits.");
        var logits = new float[char.MaxValue + 1];
        var next = _next(fed.Token, fed.Position);
        logits[next] = 10;
        logits[(next + 1) % logits.Length] = 5;
        return logits;
    }

    public void Copy(SequenceSlot source, SequenceSlot target, int from, int to) => Kv.Copy(source, target, from, to);
    public void Remove(SequenceSlot slot, int from, int to) => Kv.Remove(slot, from, to);
    public void CopyStream(SequenceSlot source, SequenceSlot target) => Kv.CopyStream(source, target);

    private sealed class Sampler(FakeExecutor owner) : ITokenSampler
    {
        public int Sample(int batchIndex)
        {
            var fed = owner._last[batchIndex];
            if (!fed.WantLogits) throw new InvalidOperationException("Sampled a row without logits.");
            return owner._next(fed.Token, fed.Position);
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>A clock that stands still until advanced.</summary>
internal sealed class SteppingClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>An adapter that counts its references; <see cref="Unload"/> makes later acquisitions fail.</summary>
internal sealed class FakeAdapter(string name) : IAdapter
{
    private int _references;
    private bool _unloaded;

    public string Name => name;
    public string LoadId => name + "#1";
    public int References => Volatile.Read(ref _references);

    public bool TryAcquire()
    {
        if (Volatile.Read(ref _unloaded)) return false;
        Interlocked.Increment(ref _references);
        return true;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) < 0) throw new InvalidOperationException($"{name} released more often than acquired.");
    }

    public void Unload() => Volatile.Write(ref _unloaded, true);

    public AdapterSet At(float scale) => AdapterSet.Of([new ScaledAdapter(this, scale)]);
}

/// <summary>Every token is one character, except the tokens of <see cref="Words"/>, whose pieces are longer.</summary>
internal sealed class FakeTokenizer : ITokenizer
{
    public IReadOnlyDictionary<int, string> Words { get; init; } = new Dictionary<int, string>();
    public string Piece(int token) => Words.TryGetValue(token, out var word) ? word : ((char)token).ToString();
    public string? FindUnencodable(string text) => null;
    public int[] Tokenize(string text, bool addBos, bool parseSpecial) => text.Select(c => (int)c).ToArray();
    public bool IsEndOfGeneration(int token) => token == 0;
    public int VocabularySize => char.MaxValue + 1;
    public string Detokenize(IReadOnlyList<int> tokens) => string.Concat(tokens.Select(Piece));
    public byte[] PieceBytes(int token) => System.Text.Encoding.UTF8.GetBytes(Piece(token));
    public ITokenTextDecoder CreateDecoder() => new Decoder(this);

    private sealed class Decoder(FakeTokenizer tokenizer) : ITokenTextDecoder
    {
        public string Add(int token) => tokenizer.Piece(token);
    }
}

/// <summary>
/// Simulates llama.cpp's KV cache: a decode puts each token in a new cell held by its sequence;
/// Copy makes another sequence hold the same cells (unified cache); CopyStream gives the target new cells
/// holding what the source's hold (a stream per sequence); a cell no sequence holds is free.
/// </summary>
internal sealed class FakeKvCache : IKvCacheOperations
{
    private readonly Dictionary<int, SortedDictionary<int, (int Cell, int Token)>> _held = new();
    private int _nextCell;

    public List<(SequenceSlot Slot, int From, int To)> Removals { get; } = [];

    public int CellsInUse
    {
        get { lock (_held) return _held.Values.SelectMany(p => p.Values).Select(c => c.Cell).Distinct().Count(); }
    }

    /// <summary>The tokens a sequence's cells hold, by position.</summary>
    public IReadOnlyDictionary<int, int> TokensOf(SequenceSlot slot)
    {
        lock (_held) return _held.TryGetValue(slot.Value, out var cells) ? cells.ToDictionary(c => c.Key, c => c.Value.Token) : new Dictionary<int, int>();
    }

    public void Decoded(IEnumerable<BatchToken> batch)
    {
        lock (_held)
            foreach (var token in batch)
            {
                var cells = Cells(token.Slot.Value);
                if (cells.ContainsKey(token.Position)) throw new InvalidOperationException($"Sequence {token.Slot.Value} already holds position {token.Position}.");
                if (token.Position > 0 && !cells.ContainsKey(token.Position - 1)) throw new InvalidOperationException($"Sequence {token.Slot.Value} has a gap before position {token.Position}.");
                cells[token.Position] = (_nextCell++, token.Token);
            }
    }

    public void Copy(SequenceSlot source, SequenceSlot target, int from, int to)
    {
        lock (_held)
        {
            var destination = Cells(target.Value);
            foreach (var (position, cell) in Cells(source.Value).Where(c => c.Key >= from && c.Key < to).ToList())
                destination[position] = cell;
        }
    }

    public List<(SequenceSlot Source, SequenceSlot Target)> StreamCopies { get; } = [];

    public void CopyStream(SequenceSlot source, SequenceSlot target)
    {
        lock (_held)
        {
            StreamCopies.Add((source, target));
            var copy = new SortedDictionary<int, (int, int)>();
            foreach (var (position, (_, token)) in Cells(source.Value)) copy[position] = (_nextCell++, token);
            _held[target.Value] = copy;
        }
    }

    public void Remove(SequenceSlot slot, int from, int to)
    {
        lock (_held)
        {
            Removals.Add((slot, from, to));
            var cells = Cells(slot.Value);
            foreach (var position in cells.Keys.Where(p => p >= from && p < to).ToList()) cells.Remove(position);
        }
    }

    private SortedDictionary<int, (int, int)> Cells(int slot)
    {
        if (!_held.TryGetValue(slot, out var cells)) _held[slot] = cells = new SortedDictionary<int, (int, int)>();
        return cells;
    }
}

internal static class EngineOutput
{
    /// <summary>Reads a request's stream to its end: the text and the finish event.</summary>
    public static async Task<(string Text, GenerationFinished Finished)> ReadAll(ChannelReader<GenerationEvent> events)
    {
        var text = "";
        GenerationFinished? finished = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var item in events.ReadAllAsync(timeout.Token))
        {
            if (item is TextDelta delta) text += delta.Text;
            if (item is GenerationFinished done) finished = done;
        }
        return (text, finished ?? throw new InvalidOperationException("No finish event."));
    }
}

/// <summary>
/// A grammar that allows exactly one text: the concatenated literals of a GBNF whose rules are sequences of string
/// literals and rule names (what the engine tests write, and <see cref="SamplingGrammar.After"/> adds). It ignores the
/// model: each sample is the next character of its text, then end of generation (token 0) once complete.
/// </summary>
internal sealed class FakeGrammarSampler(string language, Func<int, string> piece) : IGrammarSampler
{
    private int _position;

    public string Accepted => language[.._position];
    public bool Complete { get; private set; }
    public bool Disposed { get; private set; }

    public int Sample(int batchIndex)
    {
        Complete = _position == language.Length;
        return Complete ? 0 : language[_position++];
    }

    public bool TryAccept(int token)
    {
        var text = piece(token);
        if (!language.AsSpan(_position).StartsWith(text)) return false;
        _position += text.Length;
        return true;
    }

    public void Dispose() => Disposed = true;

    public static string Language(SamplingGrammar grammar)
    {
        var rules = grammar.Gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(" ::= ", 2)).ToDictionary(parts => parts[0], parts => parts[1]);
        return Expand(rules, grammar.Root);
    }

    private static string Expand(Dictionary<string, string> rules, string rule)
    {
        var text = new System.Text.StringBuilder();
        var body = rules[rule];
        for (var i = 0; i < body.Length; i++)
        {
            if (body[i] == ' ') continue;
            if (body[i] != '"')
            {
                var end = body.IndexOf(' ', i) is var space and >= 0 ? space : body.Length;
                text.Append(Expand(rules, body[i..end]));
                i = end;
                continue;
            }
            for (i++; body[i] != '"'; i++)
            {
                if (body[i] != '\\') text.Append(body[i]);
                else if (body[++i] == 'U')
                {
                    text.Append(char.ConvertFromUtf32(Convert.ToInt32(body.Substring(i + 1, 8), 16)));
                    i += 8;
                }
                else text.Append(body[i] == 'n' ? '\n' : body[i]);
            }
        }
        return text.ToString();
    }
}
