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
    public List<SequenceSlot> Cleared { get; } = [];

    /// <summary>When set, Decode blocks until it is signalled: lets a test hold requests in flight.</summary>
    public ManualResetEventSlim? Gate { get; set; }

    public void Decode(IReadOnlyList<BatchToken> batch)
    {
        Gate?.Wait(TimeSpan.FromSeconds(30));
        lock (Batches) Batches.Add(batch.ToArray());
        _last = batch.ToArray();
    }

    public ITokenSampler CreateSampler(SamplingParameters parameters) => new Sampler(this);

    public void ClearSequence(SequenceSlot slot)
    {
        lock (Cleared) Cleared.Add(slot);
    }

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

internal sealed class FakeTokenizer : ITokenizer
{
    public string? FindUnencodable(string text) => null;
    public int[] Tokenize(string text, bool addBos, bool parseSpecial) => text.Select(c => (int)c).ToArray();
    public bool IsEndOfGeneration(int token) => token == 0;
    public ITokenTextDecoder CreateDecoder() => new Decoder();

    private sealed class Decoder : ITokenTextDecoder
    {
        public string Add(int token) => ((char)token).ToString();
    }
}
