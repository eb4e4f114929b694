using System.Text;
using System.Text.Unicode;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>How a single token is shown to clients. A byte-fallback token holds part of a character, so it is not always text.</summary>
internal static class TokenText
{
    /// <summary>The token's text when its bytes are valid UTF-8, else null.</summary>
    public static string? Text(byte[] bytes) => Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>llama-server's /tokenize piece: the text, or the bytes when they are not valid UTF-8 on their own.</summary>
    public static object Piece(ITokenizer tokenizer, int token)
    {
        var bytes = tokenizer.PieceBytes(token);
        return Text(bytes) is { } text ? text : bytes.Select(b => (int)b).ToArray();
    }

    /// <summary>OpenAI's logprobs token string: the text, or "bytes:\xNN…" for part of a character.</summary>
    public static string Label(byte[] bytes) =>
        Text(bytes) ?? "bytes:" + string.Concat(bytes.Select(b => $"\\x{b:x2}"));
}
