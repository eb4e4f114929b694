using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.ToolCalls;

/// <summary>
/// The part of a JSON object's compact form that is already certain while its text is still being generated:
/// the text cut anywhere is healed (open strings and containers closed, a partial literal or escape dropped) with
/// a marker where the text ends, serialised as <see cref="Json.Arguments"/> serialises a finished object, and cut
/// at the marker. What is returned only ever grows as text arrives, and once the object is complete it is exactly
/// the finished object's compact form.
/// </summary>
internal static class PartialJson
{
    private const string Marker = "PARTIALJSONMARKER7f3a";

    /// <summary>
    /// The certain prefix of the object starting at <paramref name="start"/> (after whitespace), and where its text
    /// ends (-1 while incomplete). Null when the text there is not an object or cannot be one.
    /// </summary>
    public static (string Prefix, int End)? Prefix(string text, int start)
    {
        var i = start;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        if (i >= text.Length) return ("", -1);
        if (text[i] != '{') return null;

        var stack = new Stack<char>();
        var expect = Expect.Value;
        var inString = false;
        var stringIsKey = false;
        var tokenStart = -1;
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"')
                {
                    inString = false;
                    expect = stringIsKey ? Expect.Colon : Expect.CommaOrEnd;
                }
                continue;
            }
            if (tokenStart >= 0)
            {
                if (char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '-') continue;
                tokenStart = -1;
                expect = Expect.CommaOrEnd;
            }
            if (char.IsWhiteSpace(c)) continue;
            switch (c)
            {
                case '{' or '[' when expect == Expect.Value:
                    stack.Push(c);
                    expect = c == '{' ? Expect.KeyOrEnd : Expect.ValueOrEnd;
                    break;
                case '}' or ']' when (expect is Expect.CommaOrEnd or Expect.KeyOrEnd or Expect.ValueOrEnd) && stack.Count > 0 && stack.Peek() == (c == '}' ? '{' : '['):
                    stack.Pop();
                    expect = Expect.CommaOrEnd;
                    if (stack.Count == 0) return Serialize(text[start..(i + 1)]) is { } whole ? (whole, i + 1) : null;
                    break;
                case '"' when expect is Expect.Key or Expect.KeyOrEnd or Expect.Value or Expect.ValueOrEnd:
                    inString = true;
                    stringIsKey = expect is Expect.Key or Expect.KeyOrEnd;
                    break;
                case ':' when expect == Expect.Colon:
                    expect = Expect.Value;
                    break;
                case ',' when expect == Expect.CommaOrEnd:
                    expect = stack.Peek() == '{' ? Expect.Key : Expect.Value;
                    break;
                default:
                    if (expect is not (Expect.Value or Expect.ValueOrEnd) || !(char.IsAsciiLetterOrDigit(c) || c == '-')) return null;
                    tokenStart = i;
                    break;
            }
        }

        // Cut off: heal what is there, with the marker where the certain text ends.
        var body = text[start..];
        string heal;
        if (inString)
        {
            body = WithoutPartialEscape(body);
            heal = Marker + "\"" + (stringIsKey ? ":0" : "");
        }
        else if (tokenStart >= 0)
        {
            // A number may go on (12 → 123): its digits are certain, a trailing '.', 'e' or sign is not; a partial literal is not.
            var token = text[tokenStart..].TrimEnd('.', 'e', 'E', '+', '-');
            var number = token.Length > 0 && (char.IsAsciiDigit(token[0]) || token[0] == '-') && token.Any(char.IsAsciiDigit);
            body = text[start..tokenStart] + (number ? token : "");
            heal = number ? AfterValue(stack) : "\"" + Marker + "\"";
        }
        else
        {
            heal = expect switch
            {
                Expect.Key or Expect.KeyOrEnd => "\"" + Marker + "\":0",
                Expect.Colon => ":\"" + Marker + "\"",
                Expect.Value or Expect.ValueOrEnd => "\"" + Marker + "\"",
                _ => AfterValue(stack),
            };
        }
        var compact = Serialize(body + heal + string.Concat(stack.Select(open => open == '{' ? '}' : ']')));
        if (compact is null) return null;
        // The heal's own punctuation before the marker (a quote, a comma, a colon) is compact already and no part of the certain text.
        var cut = compact.IndexOf(Marker, StringComparison.Ordinal) - heal.IndexOf(Marker, StringComparison.Ordinal);
        return cut < 0 ? null : (compact[..cut], -1);
    }

    private enum Expect { Value, ValueOrEnd, Key, KeyOrEnd, Colon, CommaOrEnd }

    private static string AfterValue(Stack<char> stack) => stack.Peek() == '{' ? ",\"" + Marker + "\":0" : ",\"" + Marker + "\"";

    private static string WithoutPartialEscape(string body)
    {
        var slash = body.LastIndexOf('\\');
        if (slash < 0) return body;
        var run = 0;
        for (var k = slash; k >= 0 && body[k] == '\\'; k--) run++;
        // An odd run of backslashes ending the text, or \u with fewer than four digits, is an escape still being written.
        if (slash == body.Length - 1 && run % 2 == 1) return body[..slash];
        if (run % 2 == 1 && slash + 1 < body.Length && body[slash + 1] == 'u' && body.Length - slash - 2 < 4) return body[..slash];
        return body;
    }

    private static string? Serialize(string json)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) is JsonObject o ? o.ToJsonString() : null;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }
}
