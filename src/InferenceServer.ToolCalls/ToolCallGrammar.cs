using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.StructuredOutput;

namespace InferenceServer.ToolCalls;

/// <summary>
/// The GBNF that forces a tool call in a family's syntax: the call names one of the given functions and
/// its arguments match that function's JSON Schema (converted by <see cref="JsonSchemaGrammar"/>). Thread-safe.
/// </summary>
public static class ToolCallGrammar
{
    /// <exception cref="UnsupportedSchemaException">A function's parameters use a schema construct the converter cannot enforce.</exception>
    public static string Build(ToolCallSyntax syntax, IReadOnlyList<FunctionDefinition> functions, bool parallel) =>
        $"root ::= {syntax.OutputGbnf("call", parallel)}\n{Calls(syntax, functions)}";

    /// <summary>
    /// The grammar of a call section that the model opened on its own (tool_choice "auto" with strict tools), from its
    /// first character: a call of one of the functions, whose arguments match the function's schema when it is strict
    /// and are any JSON object when it is not; with where such a section begins in the family's syntax.
    /// </summary>
    /// <exception cref="UnsupportedSchemaException">A strict function's parameters use a schema construct the converter cannot enforce.</exception>
    public static LazyCallGrammar BuildLazy(ToolCallSyntax syntax, IReadOnlyList<FunctionDefinition> functions, bool parallel)
    {
        var held = functions.Select(f => f.Strict ? f : f with { Parameters = null }).ToList();
        var section = syntax.LazySection("call", parallel, functions.Select(f => f.Name).ToList());
        return new LazyCallGrammar($"root ::= {section.Gbnf}\n{Calls(syntax, held)}", section.Markers, section.Openings, section.Rearm);
    }

    /// <summary>Rule <c>call</c>: a call of any of the functions, each with its arguments' rules under its own prefix.</summary>
    private static string Calls(ToolCallSyntax syntax, IReadOnlyList<FunctionDefinition> functions)
    {
        ArgumentOutOfRangeException.ThrowIfZero(functions.Count);
        var rules = new StringBuilder();
        var calls = new List<string>();
        for (var i = 0; i < functions.Count; i++)
        {
            var prefix = $"f{i}-";
            var schema = functions[i].Parameters ?? new JsonObject { ["type"] = "object" };
            rules.Append(Prefixed(JsonSchemaGrammar.FromSchema(schema), prefix));
            rules.Append($"{prefix}call ::= {syntax.CallGbnf(functions[i].Name, prefix + "root")}\n");
            calls.Add(prefix + "call");
        }
        return $"call ::= {string.Join(" | ", calls)}\n{rules}";
    }

    /// <summary>Renames every rule of a grammar with a prefix, leaving literals, character classes, repetition counts and comments alone.</summary>
    internal static string Prefixed(string gbnf, string prefix)
    {
        var sb = new StringBuilder(gbnf.Length + 256);
        for (var i = 0; i < gbnf.Length;)
        {
            var c = gbnf[i];
            if (c is '"' or '[' or '{')
            {
                var close = c switch { '"' => '"', '[' => ']', _ => '}' };
                var end = i + 1;
                while (end < gbnf.Length && gbnf[end] != close) end += gbnf[end] == '\\' ? 2 : 1;
                end = Math.Min(end + 1, gbnf.Length);
                sb.Append(gbnf, i, end - i);
                i = end;
            }
            else if (c == '#')
            {
                var end = gbnf.IndexOf('\n', i) is var n and >= 0 ? n : gbnf.Length;
                sb.Append(gbnf, i, end - i);
                i = end;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            {
                var end = i;
                while (end < gbnf.Length && (char.IsAsciiLetterOrDigit(gbnf[end]) || gbnf[end] is '_' or '-')) end++;
                sb.Append(prefix).Append(gbnf, i, end - i);
                i = end;
            }
            else
            {
                sb.Append(c);
                i++;
            }
        }
        return sb.ToString();
    }
}

/// <summary>
/// A lazy tool-call grammar: <see cref="Gbnf"/> holds from a trigger on, which is one of <see cref="Markers"/> anywhere
/// in the answer or one of <see cref="Openings"/> at its start; with <see cref="Rearm"/>, text may follow a complete call
/// (and another call after it), else the output ends with the section.
/// </summary>
public sealed record LazyCallGrammar(string Gbnf, IReadOnlyList<string> Markers, IReadOnlyList<string> Openings, bool Rearm);
