using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace InferenceServer.ToolCalls;

/// <summary>The tool-call formats of the model families this server parses.</summary>
public enum ToolCallFormat { Generic, Hermes, Llama3, Mistral, FunctionaryV3, FunctionaryV3Llama31, DeepSeek }

/// <summary>
/// How one model family writes tool calls: parsing a finished output, where a call section starts (for
/// streaming), and the GBNF that forces a call. Stateless and thread-safe.
/// </summary>
public abstract class ToolCallSyntax
{
    public abstract ToolCallFormat Format { get; }

    /// <summary>Texts that open a call section anywhere in the output.</summary>
    internal abstract IReadOnlyList<string> Markers { get; }

    /// <summary>Splits a finished output into content and calls. A call section that does not parse stays content.</summary>
    public abstract ParsedOutput Parse(string output);

    /// <summary>
    /// Where a call's name has been written and its JSON arguments begin (at the match's end), for streaming the
    /// arguments as they are generated; group "name" is the function. Null for a family whose arguments are not
    /// written as a JSON object (they are sent whole when the call is parsed).
    /// </summary>
    internal virtual Regex? CallHead => null;

    /// <summary>How the beginning of an output decides between content and a call section; <paramref name="head"/> is all output so far.</summary>
    internal virtual Start AtStart(string head) => Start.Content;

    /// <summary>A GBNF expression for one call of <paramref name="name"/> whose arguments match rule <paramref name="argumentsRule"/>.</summary>
    internal abstract string CallGbnf(string name, string argumentsRule);

    /// <summary>A GBNF expression for the whole output: one call, or one or more when <paramref name="parallel"/>.</summary>
    internal virtual string OutputGbnf(string callRule, bool parallel) => parallel ? $"{callRule} (\"\\n\" {callRule})*" : callRule;

    internal enum Start { Undecided, Content, Section }

    /// <summary>
    /// A call section the model opens on its own, as a lazy grammar sees it: the GBNF from the section's first character,
    /// the markers that open it anywhere, the texts that open it at the start of the answer, and whether text may follow it.
    /// </summary>
    internal readonly record struct LazySectionShape(string Gbnf, IReadOnlyList<string> Markers, IReadOnlyList<string> Openings, bool Rearm);

    /// <summary>By default the section is what "required" forces, opened by the family's markers, and ends the output.</summary>
    internal virtual LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) =>
        new(OutputGbnf(callRule, parallel), Markers, [], false);

    /// <summary>The family of a Jinja chat template, recognised by the markers its tool-call rendering writes.</summary>
    public static ToolCallSyntax ForTemplate(string? templateSource) => Of(Detect(templateSource));

    public static ToolCallFormat Detect(string? source)
    {
        if (string.IsNullOrEmpty(source)) return ToolCallFormat.Generic;
        if (source.Contains("<｜tool▁calls▁begin｜>", StringComparison.Ordinal)) return ToolCallFormat.DeepSeek;
        if (source.Contains(">>>all", StringComparison.Ordinal)) return ToolCallFormat.FunctionaryV3;
        if (source.Contains("<function=", StringComparison.Ordinal) && source.Contains("<|start_header_id|>", StringComparison.Ordinal)) return ToolCallFormat.FunctionaryV3Llama31;
        if (source.Contains("[TOOL_CALLS]", StringComparison.Ordinal)) return ToolCallFormat.Mistral;
        if (source.Contains("<tool_call>", StringComparison.Ordinal)) return ToolCallFormat.Hermes;
        if (source.Contains("<|start_header_id|>ipython<|end_header_id|>", StringComparison.Ordinal) || source.Contains("<|python_tag|>", StringComparison.Ordinal))
            return ToolCallFormat.Llama3;
        return ToolCallFormat.Generic;
    }

    public static ToolCallSyntax Of(ToolCallFormat format) => format switch
    {
        ToolCallFormat.Hermes => HermesSyntax.Instance,
        ToolCallFormat.Llama3 => Llama3Syntax.Instance,
        ToolCallFormat.Mistral => MistralSyntax.Instance,
        ToolCallFormat.FunctionaryV3 => FunctionaryV3Syntax.Instance,
        ToolCallFormat.FunctionaryV3Llama31 => FunctionaryV3Llama31Syntax.Instance,
        ToolCallFormat.DeepSeek => DeepSeekSyntax.Instance,
        _ => GenericSyntax.Instance,
    };

    /// <summary>Text up to <paramref name="index"/>, trimmed at the end (the whitespace a model writes before a call).</summary>
    private protected static string Before(string output, int index) => output[..index].TrimEnd();

    /// <summary>A GBNF string literal.</summary>
    internal static string Lit(string text)
    {
        var sb = new System.Text.StringBuilder("\"");
        foreach (var c in text)
            sb.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        return sb.Append('"').ToString();
    }

    /// <summary>{"name": "NAME", "arguments"|"parameters": — the head of a JSON call, as most families write it.</summary>
    private protected static readonly Regex JsonCallHead = new(@"\{\s*""name""\s*:\s*""(?<name>[^""\\]+)""\s*,\s*""(?:arguments|parameters)""\s*:\s*", RegexOptions.Compiled);

    /// <summary>{"name": "NAME", "KEY": ARGS} as GBNF (the name needs no JSON escaping: names are [A-Za-z0-9_-]).</summary>
    private protected static string JsonCall(string name, string argumentsRule, string key = "arguments") =>
        $"{Lit($"{{\"name\": \"{name}\", \"{key}\": ")} {argumentsRule} \"}}\"";
}

/// <summary>Hermes 2 Pro, Qwen 2.5/3, SmolLM3 …: &lt;tool_call&gt;{"name", "arguments"}&lt;/tool_call&gt;, also Qwen3-Coder's &lt;function=NAME&gt;&lt;parameter=KEY&gt; inside the tags.</summary>
internal sealed partial class HermesSyntax : ToolCallSyntax
{
    public static readonly HermesSyntax Instance = new();
    private const string Open = "<tool_call>", Close = "</tool_call>";
    public override ToolCallFormat Format => ToolCallFormat.Hermes;
    internal override IReadOnlyList<string> Markers { get; } = [Open];
    internal override Regex? CallHead => JsonCallHead;

    public override ParsedOutput Parse(string output)
    {
        var first = output.IndexOf(Open, StringComparison.Ordinal);
        if (first < 0) return ParsedOutput.Text(output);
        var calls = new List<ToolCall>();
        var position = first;
        var trailing = "";
        while (position < output.Length)
        {
            var open = output.IndexOf(Open, position, StringComparison.Ordinal);
            if (open < 0)
            {
                trailing = output[position..].Trim();
                break;
            }
            var bodyStart = open + Open.Length;
            var close = output.IndexOf(Close, bodyStart, StringComparison.Ordinal);
            var body = close < 0 ? output[bodyStart..] : output[bodyStart..close];
            if (ParseBody(body.Trim()) is not { } call) return ParsedOutput.Text(output);
            calls.Add(call);
            position = close < 0 ? output.Length : close + Close.Length;
        }
        var content = Before(output, first);
        return new ParsedOutput(trailing.Length == 0 ? content : content.Length == 0 ? trailing : content + "\n" + trailing, calls);
    }

    private static ToolCall? ParseBody(string body)
    {
        if (Json.Call(Json.TryParse(body)) is { } call) return call;
        var function = XmlFunction().Match(body);
        if (!function.Success) return null;
        var arguments = new JsonObject();
        foreach (Match parameter in XmlParameter().Matches(function.Groups["body"].Value))
        {
            var value = parameter.Groups["value"].Value.Trim('\n');
            arguments[parameter.Groups["key"].Value] = Json.TryParse(value) is { } parsed and not JsonValue { } ? parsed : JsonNumberOrString(value);
        }
        return new ToolCall(function.Groups["name"].Value.Trim(), arguments.ToJsonString());
    }

    private static JsonNode JsonNumberOrString(string value) =>
        Json.TryParse(value) is JsonValue v && v.GetValueKind() != System.Text.Json.JsonValueKind.String ? v : JsonValue.Create(value);

    internal override string CallGbnf(string name, string argumentsRule) => $"\"<tool_call>\\n\" {JsonCall(name, argumentsRule)} \"\\n</tool_call>\"";

    // Each call has its own tags and text may follow them: with parallel calls, free again after each.
    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) => new(callRule, Markers, [], parallel);

    [GeneratedRegex(@"^<function=(?<name>[^>]+)>(?<body>.*?)(</function>|$)", RegexOptions.Singleline)]
    private static partial Regex XmlFunction();

    [GeneratedRegex(@"<parameter=(?<key>[^>]+)>(?<value>.*?)</parameter>", RegexOptions.Singleline)]
    private static partial Regex XmlParameter();
}

/// <summary>Llama 3.1–3.3: a bare {"name", "parameters"} object, or &lt;|python_tag|&gt; followed by JSON calls (";"-separated), NAME.call(k="v") built-ins, or Python code.</summary>
internal sealed partial class Llama3Syntax : ToolCallSyntax
{
    public static readonly Llama3Syntax Instance = new();
    private const string PythonTag = "<|python_tag|>";
    public override ToolCallFormat Format => ToolCallFormat.Llama3;
    internal override IReadOnlyList<string> Markers { get; } = [PythonTag];
    internal override Regex? CallHead => JsonCallHead;
    internal override Start AtStart(string head) => GenericSyntax.JsonStart(head);

    public override ParsedOutput Parse(string output)
    {
        var tag = output.IndexOf(PythonTag, StringComparison.Ordinal);
        if (tag >= 0)
        {
            var rest = output[(tag + PythonTag.Length)..].Trim();
            var calls = JsonCalls(rest, ';') ?? (BuiltinCall(rest) is { } builtin ? [builtin] : [new ToolCall("python", new JsonObject { ["code"] = rest }.ToJsonString())]);
            return new ParsedOutput(Before(output, tag), calls);
        }
        return JsonCalls(output.Trim(), ';') is { } bare ? new ParsedOutput("", bare) : ParsedOutput.Text(output);
    }

    /// <summary>One or more JSON calls separated by <paramref name="separator"/> (and whitespace), covering the whole text; else null.</summary>
    internal static List<ToolCall>? JsonCalls(string text, char separator)
    {
        var calls = new List<ToolCall>();
        var position = 0;
        while (true)
        {
            if (Json.Call(Json.ParsePrefix(text, position, out var end)) is not { } call) return null;
            calls.Add(call);
            position = end;
            while (position < text.Length && (char.IsWhiteSpace(text[position]) || text[position] == separator)) position++;
            if (position >= text.Length) return calls;
        }
    }

    private static ToolCall? BuiltinCall(string text)
    {
        var match = Builtin().Match(text);
        if (!match.Success) return null;
        var arguments = new JsonObject();
        foreach (Match argument in BuiltinArgument().Matches(match.Groups["args"].Value))
            arguments[argument.Groups["key"].Value] = Json.TryParse(argument.Groups["value"].Value)?.DeepClone() ?? JsonValue.Create(argument.Groups["value"].Value);
        return new ToolCall(match.Groups["name"].Value, arguments.ToJsonString());
    }

    internal override string CallGbnf(string name, string argumentsRule) => JsonCall(name, argumentsRule, "parameters");

    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) =>
        new($"{Lit(PythonTag)} {callRule} | {callRule}", Markers, ["{"], false);
    internal override string OutputGbnf(string callRule, bool parallel) => callRule; // Llama 3 writes one JSON call per turn.

    [GeneratedRegex(@"^(?<name>[A-Za-z_][A-Za-z0-9_]*)\.call\((?<args>.*)\)$", RegexOptions.Singleline)]
    private static partial Regex Builtin();

    [GeneratedRegex(@"(?<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?<value>""(?:[^""\\]|\\.)*""|[^,]+)")]
    private static partial Regex BuiltinArgument();
}

/// <summary>Mistral / Mixtral / Nemo: [TOOL_CALLS][{"name", "arguments", "id"}, …]; Mistral Small 3.2 / Devstral: [TOOL_CALLS]NAME[ARGS]{…}.</summary>
internal sealed partial class MistralSyntax : ToolCallSyntax
{
    public static readonly MistralSyntax Instance = new();
    private const string Marker = "[TOOL_CALLS]", ArgsMarker = "[ARGS]";
    public override ToolCallFormat Format => ToolCallFormat.Mistral;
    internal override IReadOnlyList<string> Markers { get; } = [Marker];
    internal override Regex? CallHead => Head();

    public override ParsedOutput Parse(string output)
    {
        var first = output.IndexOf(Marker, StringComparison.Ordinal);
        if (first < 0) return ParsedOutput.Text(output);
        var calls = new List<ToolCall>();
        foreach (var section in output[(first + Marker.Length)..].Split(Marker))
        {
            var text = section.Trim();
            if (text.StartsWith('['))
            {
                if (Json.TryParse(text) is not JsonArray array) return ParsedOutput.Text(output);
                foreach (var item in array)
                    if (Json.Call(item) is { } call) calls.Add(call);
                    else return ParsedOutput.Text(output);
                continue;
            }
            var args = text.IndexOf(ArgsMarker, StringComparison.Ordinal);
            if (args <= 0 || Json.Arguments(Json.TryParse(text[(args + ArgsMarker.Length)..])) is not { } arguments)
                return ParsedOutput.Text(output);
            calls.Add(new ToolCall(text[..args].Trim(), arguments));
        }
        return new ParsedOutput(Before(output, first), calls);
    }

    internal override string CallGbnf(string name, string argumentsRule) => JsonCall(name, argumentsRule);
    internal override string OutputGbnf(string callRule, bool parallel) =>
        parallel ? $"{Lit(Marker + "[")} {callRule} (\", \" {callRule})* \"]\"" : $"{Lit(Marker + "[")} {callRule} \"]\"";

    [GeneratedRegex(@"\{\s*""name""\s*:\s*""(?<name>[^""\\]+)""\s*,\s*""arguments""\s*:\s*|\[TOOL_CALLS\](?<name>[^\[\s]+)\[ARGS\]")]
    private static partial Regex Head();
}

/// <summary>Functionary v3.2: the output is ">>>"-separated segments "NAME\n{arguments}", where NAME "all" is text for the user.</summary>
internal sealed partial class FunctionaryV3Syntax : ToolCallSyntax
{
    public static readonly FunctionaryV3Syntax Instance = new();
    private const string Separator = ">>>", ContentName = "all\n";
    public override ToolCallFormat Format => ToolCallFormat.FunctionaryV3;
    internal override IReadOnlyList<string> Markers { get; } = [Separator];
    internal override Regex? CallHead => Head();

    internal override Start AtStart(string head) =>
        head.StartsWith(ContentName, StringComparison.Ordinal) ? Start.Content
        : ContentName.StartsWith(head, StringComparison.Ordinal) ? Start.Undecided
        : Start.Section;

    /// <summary>Characters at the start that are the "all\n" header, not content.</summary>
    internal static int HeaderLength(string head) => head.StartsWith(ContentName, StringComparison.Ordinal) ? ContentName.Length : 0;

    public override ParsedOutput Parse(string output)
    {
        var content = new System.Text.StringBuilder();
        var calls = new List<ToolCall>();
        for (var at = 0; at < output.Length;)
        {
            if (output.AsSpan(at).StartsWith(Separator)) at += Separator.Length;
            var segmentEnd = SegmentEnd(output, at);
            var newline = output.IndexOf('\n', at, segmentEnd - at);
            var name = output[at..(newline < 0 ? segmentEnd : newline)].Trim();
            var bodyStart = newline < 0 ? segmentEnd : newline + 1;
            at = segmentEnd;
            if (name.Length == 0 && bodyStart == segmentEnd) continue;
            if (name == "all")
            {
                content.Append(output[bodyStart..segmentEnd]);
                continue;
            }
            if (!IsName(name)) return ParsedOutput.Text(output);
            if (output.AsSpan(bodyStart, segmentEnd - bodyStart).IsWhiteSpace())
            {
                calls.Add(new ToolCall(name, "{}"));
                continue;
            }
            // A JSON body ends where its value does: a ">>>" inside one of its strings separates nothing.
            if (Json.ParsePrefix(output, bodyStart, out var jsonEnd) is { } json && Json.Arguments(json) is { } arguments && IsSegmentEnd(output, jsonEnd))
            {
                calls.Add(new ToolCall(name, arguments));
                at = output.Length - output.AsSpan(jsonEnd).TrimStart().Length;
                continue;
            }
            if (name != "python") return ParsedOutput.Text(output);
            calls.Add(new ToolCall(name, new JsonObject { ["code"] = output[bodyStart..segmentEnd].Trim() }.ToJsonString()));
        }
        return new ParsedOutput(content.ToString().TrimEnd(), calls);
    }

    private static int SegmentEnd(string output, int from) => output.IndexOf(Separator, from, StringComparison.Ordinal) is var next and >= 0 ? next : output.Length;

    private static bool IsSegmentEnd(string output, int at)
    {
        var rest = output.AsSpan(at).TrimStart();
        return rest.IsEmpty || rest.StartsWith(Separator);
    }

    internal static bool IsName(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    internal override string CallGbnf(string name, string argumentsRule) => $"{Lit(name + "\n")} {argumentsRule}";

    // A call is a segment of its own: at the start its name opens it, later ">>>" does.
    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) =>
        new($"{Lit(Separator)} {callRule} | {callRule}", Markers, [.. names.Select(n => n + "\n")], parallel);
    internal override string OutputGbnf(string callRule, bool parallel) => parallel ? $"{callRule} (\">>>\" {callRule})*" : callRule;

    // "all" is the content segment's name, not a function.
    [GeneratedRegex(@"(?:^|>>>)(?!all\n)(?<name>[A-Za-z0-9_.-]+)\n")]
    private static partial Regex Head();
}

/// <summary>Functionary v3.1 (Llama 3.1): &lt;function=NAME&gt;{arguments}&lt;/function&gt;, and &lt;|python_tag|&gt; code.</summary>
internal sealed partial class FunctionaryV3Llama31Syntax : ToolCallSyntax
{
    public static readonly FunctionaryV3Llama31Syntax Instance = new();
    public override ToolCallFormat Format => ToolCallFormat.FunctionaryV3Llama31;
    internal override IReadOnlyList<string> Markers { get; } = ["<function=", "<|python_tag|>"];
    internal override Regex? CallHead => Head();

    public override ParsedOutput Parse(string output)
    {
        var start = Markers.Select(m => output.IndexOf(m, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (start < 0) return ParsedOutput.Text(output);
        var section = output[start..];
        var calls = new List<ToolCall>();
        var position = 0;
        foreach (Match match in Function().Matches(section))
        {
            if (section[position..match.Index].Trim().Length > 0 || Json.Arguments(Json.TryParse(match.Groups["args"].Value)) is not { } arguments)
                return ParsedOutput.Text(output);
            calls.Add(new ToolCall(match.Groups["name"].Value, arguments));
            position = match.Index + match.Length;
        }
        var rest = section[position..].Trim();
        if (rest.StartsWith("<|python_tag|>", StringComparison.Ordinal))
            calls.Add(new ToolCall("python", new JsonObject { ["code"] = rest["<|python_tag|>".Length..].Trim() }.ToJsonString()));
        else if (rest.Length > 0)
            return ParsedOutput.Text(output);
        return new ParsedOutput(Before(output, start), calls);
    }

    internal override string CallGbnf(string name, string argumentsRule) => $"{Lit($"<function={name}>")} {argumentsRule} \"</function>\"";

    // <|python_tag|> code is the built-in python tool's, no function of the request: it stays free.
    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) => new(callRule, ["<function="], [], parallel);
    internal override string OutputGbnf(string callRule, bool parallel) => parallel ? $"{callRule}+" : callRule;

    [GeneratedRegex(@"<function=(?<name>[^>]+)>(?<args>.*?)(</function>|$)", RegexOptions.Singleline)]
    private static partial Regex Function();

    [GeneratedRegex(@"<function=(?<name>[^>]+)>")]
    private static partial Regex Head();
}

/// <summary>
/// DeepSeek R1 (&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\n{…}\n```&lt;｜tool▁call▁end｜&gt;)
/// and V3.1+ (&lt;｜tool▁call▁begin｜&gt;NAME&lt;｜tool▁sep｜&gt;{…}&lt;｜tool▁call▁end｜&gt;), inside &lt;｜tool▁calls▁begin｜&gt; … &lt;｜tool▁calls▁end｜&gt;.
/// </summary>
internal sealed partial class DeepSeekSyntax : ToolCallSyntax
{
    public static readonly DeepSeekSyntax Instance = new();
    private const string Begin = "<｜tool▁calls▁begin｜>", End = "<｜tool▁calls▁end｜>", CallBegin = "<｜tool▁call▁begin｜>";
    public override ToolCallFormat Format => ToolCallFormat.DeepSeek;
    internal override IReadOnlyList<string> Markers { get; } = [Begin, CallBegin];
    internal override Regex? CallHead => Head();

    public override ParsedOutput Parse(string output)
    {
        var start = output.IndexOf(Begin, StringComparison.Ordinal) is var b and >= 0 ? b : output.IndexOf(CallBegin, StringComparison.Ordinal);
        if (start < 0) return ParsedOutput.Text(output);
        var section = output[start..];
        var end = section.IndexOf(End, StringComparison.Ordinal);
        var trailing = end < 0 ? "" : section[(end + End.Length)..].Trim();
        if (end >= 0) section = section[..end];
        var calls = new List<ToolCall>();
        foreach (Match match in Call().Matches(section))
        {
            var name = (match.Groups["r1name"].Success ? match.Groups["r1name"] : match.Groups["name"]).Value.Trim();
            var args = (match.Groups["r1args"].Success ? match.Groups["r1args"] : match.Groups["args"]).Value;
            if (Json.Arguments(Json.TryParse(args)) is not { } arguments) return ParsedOutput.Text(output);
            calls.Add(new ToolCall(name, arguments));
        }
        if (calls.Count == 0) return ParsedOutput.Text(output);
        var content = Before(output, start);
        return new ParsedOutput(trailing.Length == 0 ? content : (content + "\n" + trailing).Trim(), calls);
    }

    internal override string CallGbnf(string name, string argumentsRule) =>
        $"{Lit($"{CallBegin}function<｜tool▁sep｜>{name}\n```json\n")} {argumentsRule} {Lit("\n```<｜tool▁call▁end｜>")}";
    internal override string OutputGbnf(string callRule, bool parallel) => $"{Lit(Begin)} {callRule}{(parallel ? "+" : "")} {Lit(End)}";

    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names) => new(OutputGbnf(callRule, parallel), [Begin], [], false);

    [GeneratedRegex(@"<｜tool▁call▁begin｜>(?:function<｜tool▁sep｜>(?<r1name>[^\n]+)\n```(?:json)?\n(?<r1args>.*?)\n?```|(?<name>[^<]+?)<｜tool▁sep｜>(?<args>.*?))\s*(?:<｜tool▁call▁end｜>|$)", RegexOptions.Singleline)]
    private static partial Regex Call();

    // R1 writes "function" where V3.1 writes the name: that is no call to a function named "function".
    [GeneratedRegex(@"<｜tool▁call▁begin｜>(?:function<｜tool▁sep｜>(?<name>[^\n]+)\n```(?:json)?\n|(?!function<｜tool▁sep｜>)(?<name>[^<]+?)<｜tool▁sep｜>)")]
    private static partial Regex Head();
}

/// <summary>
/// Any other template: the whole output is JSON — {"tool_calls": [calls]}, {"tool_call": call}, a call
/// {"name", "arguments"}, an array of calls, or {"response": text}. Anything else is content.
/// </summary>
internal sealed class GenericSyntax : ToolCallSyntax
{
    public static readonly GenericSyntax Instance = new();
    public override ToolCallFormat Format => ToolCallFormat.Generic;
    internal override IReadOnlyList<string> Markers { get; } = [];
    internal override Start AtStart(string head) => JsonStart(head);
    internal override Regex? CallHead => JsonCallHead;

    internal static Start JsonStart(string head) => head.TrimStart() switch
    {
        "" => Start.Undecided,
        var t when t[0] is '{' or '[' => Start.Section,
        _ => Start.Content,
    };

    public override ParsedOutput Parse(string output)
    {
        switch (Json.TryParse(output))
        {
            case JsonObject o when o["tool_calls"] is JsonArray array:
                return Calls(array) is { } calls ? new ParsedOutput("", calls) : ParsedOutput.Text(output);
            case JsonObject o when o["tool_call"] is JsonObject single:
                return Json.Call(single) is { } one ? new ParsedOutput("", [one]) : ParsedOutput.Text(output);
            case JsonObject o when o["response"] is JsonValue v && v.TryGetValue(out string? text) && o.Count == 1:
                return ParsedOutput.Text(text);
            case JsonArray array:
                return Calls(array) is { } many ? new ParsedOutput("", many) : ParsedOutput.Text(output);
            case var node:
                return Json.Call(node) is { } call ? new ParsedOutput("", [call]) : ParsedOutput.Text(output);
        }
    }

    private static List<ToolCall>? Calls(JsonArray array)
    {
        var calls = new List<ToolCall>();
        foreach (var item in array)
            if (Json.Call(item) is { } call) calls.Add(call);
            else return null;
        return calls.Count > 0 ? calls : null;
    }

    internal override string CallGbnf(string name, string argumentsRule) => JsonCall(name, argumentsRule);
    internal override string OutputGbnf(string callRule, bool parallel) =>
        parallel ? $"\"{{\\\"tool_calls\\\": [\" {callRule} (\", \" {callRule})* \"]}}\"" : callRule;

    // An answer that begins as JSON is calls, in any of the forms the parser reads except {"response": …}.
    internal override LazySectionShape LazySection(string callRule, bool parallel, IReadOnlyList<string> names)
    {
        var more = parallel ? $" (\", \" {callRule})*" : "";
        return new($"{callRule} | \"{{\\\"tool_calls\\\": [\" {callRule}{more} \"]}}\" | \"[\" {callRule}{more} \"]\"", [], ["{", "["], false);
    }
}
