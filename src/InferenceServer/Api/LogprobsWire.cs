using System.Text.Json.Serialization;
using InferenceServer.Engine;

namespace InferenceServer.Api;

// OpenAI's two logprobs shapes: chat's list of token objects, and legacy completions' parallel arrays.

internal sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? Refusal => null;

    public static ChatLogprobs Of(ITokenizer tokenizer, IEnumerable<TokenLogprob> tokens) =>
        new(tokens.Select(token => ChatTokenLogprob.Of(tokenizer, token)).ToList());
}

internal sealed record ChatTokenLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs)
{
    public static ChatTokenLogprob Of(ITokenizer tokenizer, TokenLogprob token)
    {
        var bytes = tokenizer.PieceBytes(token.Token);
        return new(TokenText.Label(bytes), LogprobWire.Finite(token.Logprob), LogprobWire.Ints(bytes),
            token.Top.Select(alternative =>
            {
                var altBytes = tokenizer.PieceBytes(alternative.Token);
                return new ChatTopLogprob(TokenText.Label(altBytes), LogprobWire.Finite(alternative.Logprob), LogprobWire.Ints(altBytes));
            }).ToList());
    }
}

internal sealed record ChatTopLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes);

/// <summary>Legacy completions' logprobs: the first prompt token of an echo has no logprob (null), as at OpenAI.</summary>
internal sealed record TextLogprobs(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float?> TokenLogprobs,
    IReadOnlyList<IReadOnlyDictionary<string, float>?> TopLogprobs,
    IReadOnlyList<int> TextOffset);

/// <summary>
/// Builds one choice's legacy logprobs token by token; <see cref="Take"/> returns what was added since the last
/// call (a streamed chunk's share). Offsets count characters of the choice's text: the echoed prompt, then the
/// decoded completion.
/// </summary>
internal sealed class TextLogprobsBuilder(ITokenizer tokenizer)
{
    private readonly ITokenTextDecoder _decoder = tokenizer.CreateDecoder();
    private readonly List<string> _tokens = [];
    private readonly List<float?> _logprobs = [];
    private readonly List<IReadOnlyDictionary<string, float>?> _top = [];
    private readonly List<int> _offsets = [];
    private int _offset;

    /// <summary>The echoed prompt: its first token has no logprob; <paramref name="scored"/> covers the rest.</summary>
    public void AddPrompt(int[] prompt, IReadOnlyList<TokenLogprob> scored, int echoedLength)
    {
        var first = _offsets.Count;
        Add(prompt[0], null, null);
        foreach (var token in scored) Add(token);
        // The tokens can decode to more text than the echo holds (SentencePiece's leading space, which the echo
        // drops): the prompt's offsets are aligned at its end and kept inside the echo.
        var extra = Math.Max(0, _offset - echoedLength);
        for (var i = first; i < _offsets.Count; i++) _offsets[i] = Math.Clamp(_offsets[i] - extra, 0, echoedLength);
        // The completion's offsets continue after the prompt as the client sees it, whatever its tokens decode to.
        _offset = echoedLength;
    }

    public void Add(TokenLogprob token)
    {
        var top = new Dictionary<string, float>();
        // Two tokens can read the same; the likelier one (listed first) keeps the key.
        foreach (var alternative in token.Top) top.TryAdd(TokenText.Label(tokenizer.PieceBytes(alternative.Token)), LogprobWire.Finite(alternative.Logprob));
        Add(token.Token, LogprobWire.Finite(token.Logprob), top);
    }

    private void Add(int token, float? logprob, IReadOnlyDictionary<string, float>? top)
    {
        _tokens.Add(TokenText.Label(tokenizer.PieceBytes(token)));
        _logprobs.Add(logprob);
        _top.Add(top);
        _offsets.Add(_offset);
        _offset += _decoder.Add(token).Length;
    }

    public TextLogprobs Take()
    {
        var taken = new TextLogprobs(_tokens.ToList(), _logprobs.ToList(), _top.ToList(), _offsets.ToList());
        _tokens.Clear();
        _logprobs.Clear();
        _top.Clear();
        _offsets.Clear();
        return taken;
    }
}

internal static class LogprobWire
{
    /// <summary>JSON has no infinity; OpenAI reports a token the model rules out as -9999.</summary>
    public static float Finite(float logprob) => float.IsFinite(logprob) ? logprob : -9999f;

    public static IReadOnlyList<int> Ints(byte[] bytes) => bytes.Select(b => (int)b).ToArray();
}
