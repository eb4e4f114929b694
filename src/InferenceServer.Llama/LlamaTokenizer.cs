using System.Text;
using InferenceServer.Engine;
using LLama;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>Tokenizes with the model's vocabulary, refusing text that would crash llama.cpp.</summary>
internal sealed class LlamaTokenizer : ITokenizer
{
    private readonly LLamaWeights _weights;

    // Null when every character is encodable (byte-level BPE, or SentencePiece with byte fallback).
    // Otherwise the characters that are tokens on their own: SentencePiece without byte fallback throws
    // std::out_of_range inside llama.cpp (killing the process) for any other character.
    private readonly HashSet<int>? _encodable;

    public LlamaTokenizer(LLamaWeights weights)
    {
        _weights = weights;
        var vocab = weights.NativeHandle.Vocab;
        if (vocab.Type != LLamaVocabType.SentencePiece) return;

        var singles = new HashSet<int>();
        for (var id = 0; id < vocab.Count; id++)
        {
            var token = (LLamaToken)id;
            if (token.GetAttributes(vocab).HasFlag(LLamaTokenAttr.Byte)) return;
            var piece = vocab.LLamaTokenToString(token, false);
            if (piece is { Length: > 0 } && char.ConvertToUtf32(piece, 0) is var rune && char.ConvertFromUtf32(rune).Length == piece.Length)
                singles.Add(rune);
        }
        _encodable = singles;
    }

    public string? FindUnencodable(string text)
    {
        if (_encodable is null) return null;
        for (var i = 0; i < text.Length; i += char.IsSurrogatePair(text, i) ? 2 : 1)
        {
            var rune = char.IsSurrogatePair(text, i) ? char.ConvertToUtf32(text, i) : text[i];
            if (!_encodable.Contains(rune))
                return $"The text contains '{char.ConvertFromUtf32(char.IsSurrogate(text[i]) && !char.IsSurrogatePair(text, i) ? 0xFFFD : rune)}' (U+{rune:X4}) at character {i}, which this model's vocabulary cannot encode.";
        }
        return null;
    }

    public int[] Tokenize(string text, bool addBos, bool parseSpecial) =>
        Array.ConvertAll(_weights.NativeHandle.Tokenize(text, addBos, parseSpecial, Encoding.UTF8), t => (int)t);

    public int VocabularySize => _weights.NativeHandle.Vocab.Count;

    public string Detokenize(IReadOnlyList<int> tokens)
    {
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, _weights);
        foreach (var token in tokens) decoder.Add(token);
        return decoder.Read();
    }

    public byte[] PieceBytes(int token)
    {
        Span<byte> buffer = stackalloc byte[128];
        // Writes nothing and returns the size when the piece does not fit.
        var length = (int)_weights.NativeHandle.TokenToSpan((LLamaToken)token, buffer, 0, special: true);
        if (length <= buffer.Length) return buffer[..length].ToArray();
        var large = new byte[length];
        _weights.NativeHandle.TokenToSpan((LLamaToken)token, large, 0, special: true);
        return large;
    }

    public bool IsEndOfGeneration(int token) => ((LLamaToken)token).IsEndOfGeneration(_weights.NativeHandle.Vocab);

    public ITokenTextDecoder CreateDecoder() => new Decoder(new StreamingTokenDecoder(Encoding.UTF8, _weights));

    private sealed class Decoder(StreamingTokenDecoder decoder) : ITokenTextDecoder
    {
        public string Add(int token)
        {
            decoder.Add(token);
            return decoder.Read();
        }
    }
}
