using System.Globalization;
using System.Text;

namespace InferenceServer.Templates.Lexing;

internal enum TokenKind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;
    public bool IsOp(string op) => Kind == TokenKind.Operator && Value == op;
    public override string ToString() => Kind == TokenKind.End ? "end of template" : $"'{Value}'";
}

/// <summary>
/// Jinja2's lexer with Hugging Face's settings: trim_blocks=True (one newline after a block or comment tag is
/// dropped), lstrip_blocks=True (spaces/tabs before a block or comment tag at a line start are dropped),
/// keep_trailing_newline=False (one trailing newline of the source is dropped), '-'/'+' whitespace control.
/// </summary>
internal static class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    public static List<Token> Tokenize(string source)
    {
        var src = NormalizeNewlines(source);
        var tokens = new List<Token>();
        int pos = 0;
        int line = 1;
        bool lineStarting = true;

        while (pos < src.Length)
        {
            int tagStart = FindTagStart(src, pos);
            if (tagStart < 0)
            {
                tokens.Add(new Token(TokenKind.Data, src[pos..], line));
                break;
            }
            char kind = src[tagStart + 1]; // '{', '%' or '#'
            char sign = tagStart + 2 < src.Length ? src[tagStart + 2] : '\0';
            string text = src[pos..tagStart];
            if (sign == '-')
            {
                text = text.TrimEnd();
            }
            else if (sign != '+' && kind != '{')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsSpaceRun(text, lineStart))
                    text = text[..lineStart];
            }
            if (text.Length > 0) tokens.Add(new Token(TokenKind.Data, text, line));
            line += Count(src, pos, tagStart, '\n');

            int bodyStart = tagStart + 2 + (sign is '-' or '+' ? 1 : 0);
            if (kind == '#')
            {
                int close = src.IndexOf("#}", bodyStart, StringComparison.Ordinal);
                if (close < 0) throw new TemplateSyntaxException("Missing end of comment tag", line);
                int end = close + 2;
                char before = src[close - 1];
                if (close - 1 >= bodyStart && before == '-') end = SkipWhitespace(src, end);
                else if (!(close - 1 >= bodyStart && before == '+') && end < src.Length && src[end] == '\n') end++;
                line += Count(src, tagStart, end, '\n');
                lineStarting = src[end - 1] == '\n';
                pos = end;
                continue;
            }

            if (kind == '%' && TryLexRaw(src, tagStart, bodyStart, ref line, tokens, out int afterRaw))
            {
                pos = afterRaw;
                lineStarting = src[pos - 1] == '\n';
                continue;
            }

            tokens.Add(new Token(kind == '{' ? TokenKind.VariableBegin : TokenKind.BlockBegin, kind == '{' ? "{{" : "{%", line));
            pos = LexExpression(src, bodyStart, kind == '{', ref line, tokens);
            lineStarting = src[pos - 1] == '\n';
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    private static string NormalizeNewlines(string source)
    {
        var s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    private static int FindTagStart(string src, int from)
    {
        for (int i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
        {
            char c = src[i + 1];
            if (c is '{' or '%' or '#') return i;
        }
        return -1;
    }

    private static bool IsSpaceRun(string text, int from)
    {
        for (int i = from; i < text.Length; i++) if (!char.IsWhiteSpace(text[i])) return false;
        return true;
    }

    private static int Count(string s, int from, int to, char c)
    {
        int n = 0;
        for (int i = from; i < to && i < s.Length; i++) if (s[i] == c) n++;
        return n;
    }

    private static int SkipWhitespace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    /// <summary>{% raw %}...{% endraw %}: the body is data, untouched.</summary>
    private static bool TryLexRaw(string src, int tagStart, int bodyStart, ref int line, List<Token> tokens, out int after)
    {
        after = 0;
        int i = SkipWhitespace(src, bodyStart);
        if (string.CompareOrdinal(src, i, "raw", 0, 3) != 0) return false;
        i = SkipWhitespace(src, i + 3);
        int bodyFrom;
        if (string.CompareOrdinal(src, i, "-%}", 0, 3) == 0) bodyFrom = SkipWhitespace(src, i + 3);
        else if (string.CompareOrdinal(src, i, "%}", 0, 2) == 0) bodyFrom = i + 2;
        else return false;

        for (int search = bodyFrom; ;)
        {
            int open = src.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0) throw new TemplateSyntaxException("Missing end of raw directive", line);
            int j = open + 2;
            char sign = j < src.Length ? src[j] : '\0';
            if (sign is '-' or '+') j++;
            j = SkipWhitespace(src, j);
            if (string.CompareOrdinal(src, j, "endraw", 0, 6) != 0) { search = open + 2; continue; }
            j = SkipWhitespace(src, j + 6);
            int end;
            if (string.CompareOrdinal(src, j, "-%}", 0, 3) == 0) end = SkipWhitespace(src, j + 3);
            else if (string.CompareOrdinal(src, j, "+%}", 0, 3) == 0) end = j + 3;
            else if (string.CompareOrdinal(src, j, "%}", 0, 2) == 0) end = j + 2 < src.Length && src[j + 2] == '\n' ? j + 3 : j + 2;
            else { search = open + 2; continue; }
            string body = src[bodyFrom..open];
            if (sign == '-') body = body.TrimEnd();
            else if (sign != '+')
            {
                int ls = body.LastIndexOf('\n') + 1;
                if (ls < body.Length && IsSpaceRun(body, ls) && (ls > 0)) body = body[..ls];
            }
            if (body.Length > 0) tokens.Add(new Token(TokenKind.Data, body, line));
            line += Count(src, tagStart, end, '\n');
            after = end;
            return true;
        }
    }

    /// <summary>Lexes the inside of a {{ }} or {% %} tag; returns the position after its end delimiter.</summary>
    private static int LexExpression(string src, int pos, bool isVariable, ref int line, List<Token> tokens)
    {
        int depth = 0;
        while (true)
        {
            if (pos >= src.Length) throw new TemplateSyntaxException($"unexpected end of template, expected '{(isVariable ? "}}" : "%}")}'", line);
            char c = src[pos];
            if (char.IsWhiteSpace(c))
            {
                if (c == '\n') line++;
                pos++;
                continue;
            }
            if (depth == 0)
            {
                int end = MatchEnd(src, pos, isVariable);
                if (end >= 0)
                {
                    tokens.Add(new Token(isVariable ? TokenKind.VariableEnd : TokenKind.BlockEnd, isVariable ? "}}" : "%}", line));
                    line += Count(src, pos, end, '\n');
                    return end;
                }
            }
            if (c == '\'' || c == '"')
            {
                int start = pos;
                var sb = new StringBuilder();
                pos++;
                while (true)
                {
                    if (pos >= src.Length) throw new TemplateSyntaxException("unexpected end of string", line);
                    char d = src[pos];
                    if (d == c) { pos++; break; }
                    if (d == '\\' && pos + 1 < src.Length) { sb.Append(d).Append(src[pos + 1]); pos += 2; continue; }
                    sb.Append(d);
                    pos++;
                }
                tokens.Add(new Token(TokenKind.String, Unescape(sb.ToString(), line), line));
                line += Count(src, start, pos, '\n');
                continue;
            }
            if (char.IsDigit(c))
            {
                pos = LexNumber(src, pos, line, tokens);
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < src.Length && (char.IsLetterOrDigit(src[pos]) || src[pos] == '_')) pos++;
                tokens.Add(new Token(TokenKind.Name, src[start..pos], line));
                continue;
            }
            string? op = null;
            foreach (var candidate in Operators)
                if (string.CompareOrdinal(src, pos, candidate, 0, candidate.Length) == 0) { op = candidate; break; }
            if (op is null) throw new TemplateSyntaxException($"unexpected char '{c}'", line);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}")
            {
                if (depth == 0) throw new TemplateSyntaxException($"unexpected '{op}'", line);
                depth--;
            }
            tokens.Add(new Token(TokenKind.Operator, op, line));
            pos += op.Length;
        }
    }

    private static int MatchEnd(string src, int pos, bool isVariable)
    {
        string close = isVariable ? "}}" : "%}";
        if (src[pos] == '-' && string.CompareOrdinal(src, pos + 1, close, 0, 2) == 0) return SkipWhitespace(src, pos + 3);
        if (src[pos] == '+' && !isVariable && string.CompareOrdinal(src, pos + 1, close, 0, 2) == 0) return pos + 3;
        if (string.CompareOrdinal(src, pos, close, 0, 2) == 0)
        {
            int end = pos + 2;
            if (!isVariable && end < src.Length && src[end] == '\n') end++; // trim_blocks
            return end;
        }
        return -1;
    }

    private static int LexNumber(string src, int pos, int line, List<Token> tokens)
    {
        int start = pos;
        static bool DigitOrUnderscore(char ch) => char.IsAsciiDigit(ch) || ch == '_';
        if (src[pos] == '0' && pos + 1 < src.Length && src[pos + 1] is 'x' or 'X' or 'o' or 'O' or 'b' or 'B')
        {
            int radix = src[pos + 1] is 'x' or 'X' ? 16 : src[pos + 1] is 'o' or 'O' ? 8 : 2;
            pos += 2;
            int digitsStart = pos;
            while (pos < src.Length && (char.IsAsciiHexDigit(src[pos]) || src[pos] == '_')) pos++;
            long v = 0;
            foreach (char ch in src[digitsStart..pos].Replace("_", "")) v = v * radix + Convert.ToInt32(ch.ToString(), 16);
            tokens.Add(new Token(TokenKind.Integer, v.ToString(CultureInfo.InvariantCulture), line));
            return pos;
        }
        while (pos < src.Length && DigitOrUnderscore(src[pos])) pos++;
        bool isFloat = false;
        if (pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
        {
            isFloat = true;
            pos++;
            while (pos < src.Length && DigitOrUnderscore(src[pos])) pos++;
        }
        if (pos < src.Length && src[pos] is 'e' or 'E')
        {
            int p = pos + 1;
            if (p < src.Length && src[p] is '+' or '-') p++;
            if (p < src.Length && char.IsAsciiDigit(src[p]))
            {
                isFloat = true;
                pos = p;
                while (pos < src.Length && DigitOrUnderscore(src[pos])) pos++;
            }
        }
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, src[start..pos].Replace("_", ""), line));
        return pos;
    }

    /// <summary>Python string-literal escapes, as Jinja2 applies them ("unicode-escape").</summary>
    internal static string Unescape(string raw, int line)
    {
        if (!raw.Contains('\\')) return raw;
        var sb = new StringBuilder(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c != '\\' || i + 1 >= raw.Length) { sb.Append(c); continue; }
            char e = raw[++i];
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': sb.Append(HexEscape(raw, ref i, 2, line)); break;
                case 'u': sb.Append(HexEscape(raw, ref i, 4, line)); break;
                case 'U': sb.Append(HexEscape(raw, ref i, 8, line)); break;
                case >= '0' and <= '7':
                    {
                        int v = e - '0';
                        for (int k = 0; k < 2 && i + 1 < raw.Length && raw[i + 1] is >= '0' and <= '7'; k++) v = v * 8 + (raw[++i] - '0');
                        sb.Append((char)v);
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private static string HexEscape(string raw, ref int i, int digits, int line)
    {
        if (i + digits >= raw.Length + 0 && i + digits > raw.Length - 1 + 1) throw new TemplateSyntaxException("truncated escape in string", line);
        string hex = raw.Substring(i + 1, Math.Min(digits, raw.Length - i - 1));
        if (hex.Length != digits || !int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
            throw new TemplateSyntaxException("truncated escape in string", line);
        i += digits;
        return char.ConvertFromUtf32(code);
    }
}
