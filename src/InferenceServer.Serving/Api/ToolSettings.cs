using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.Engine;
using InferenceServer.StructuredOutput;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api;

internal enum ToolChoice { None, Auto, Required, Named }

/// <summary>
/// A chat request's tool parameters, read and checked: <c>tools</c> (functions with JSON Schema
/// parameters), <c>tool_choice</c> and <c>parallel_tool_calls</c>, and what they mean for the prompt,
/// the grammar and the output's parsing.
/// </summary>
internal sealed record ToolSettings(JsonArray? Tools, IReadOnlyList<FunctionDefinition> Functions, ToolChoice Choice, string? ForcedName, bool Parallel)
{
    public static readonly ToolSettings Off = new(null, [], ToolChoice.None, null, true);

    /// <summary>Whether the model is offered tools and its output is parsed for calls.</summary>
    public bool Active => Functions.Count > 0 && Choice != ToolChoice.None;

    /// <summary>
    /// The tools as the template should see them, also when tool_choice is "none" (as OpenAI does): the model
    /// must not call one, and the next turn of an agent loop finds the same prompt prefix in the cache.
    /// </summary>
    public JsonArray? TemplateTools => Functions.Count > 0 ? Tools : null;

    public static ToolSettings Read(RequestReader reader)
    {
        var parallel = reader.OptionalBool("parallel_tool_calls") ?? true;
        var (tools, functions) = ReadTools(reader.Get("tools"));
        var (choice, forced) = ReadChoice(reader.Get("tool_choice"), functions);
        return new ToolSettings(tools, functions, choice, forced, parallel);
    }

    /// <summary>The grammar that forces a call for "required" or a named function; null otherwise.</summary>
    public SamplingGrammar? Grammar(ToolCallSyntax syntax, IGrammarChecker checker)
    {
        if (!Active || Choice == ToolChoice.Auto) return null;
        var functions = Choice == ToolChoice.Named ? Functions.Where(f => f.Name == ForcedName).ToList() : Functions;
        string gbnf;
        try
        {
            gbnf = ToolCallGrammar.Build(syntax, functions, Parallel && Choice == ToolChoice.Required);
        }
        catch (UnsupportedSchemaException ex)
        {
            throw RequestReader.Invalid("tools", $"A tool call cannot be forced for these tools: {ex.Message}", "unsupported_schema");
        }
        var grammar = new SamplingGrammar(gbnf);
        return checker.FindProblem(grammar) is { } problem
            ? throw RequestReader.Invalid("tool_choice", $"A tool call cannot be forced with this model: {problem}.", "unsupported_grammar")
            : grammar;
    }

    /// <summary>
    /// For "auto" with strict tools: the grammar that holds once the model opens a call, so that a strict tool's
    /// arguments always match its schema (non-strict tools in the same request may be called with any JSON object);
    /// null otherwise. Triggers inside the reasoning block of a thinking template do not count.
    /// </summary>
    public LazyGrammar? StrictGrammar(ToolCallSyntax syntax, IGrammarChecker checker, ReasoningSyntax? reasoning, bool startsInReasoning)
    {
        if (!Active || Choice != ToolChoice.Auto || !Functions.Any(f => f.Strict)) return null;
        LazyCallGrammar built;
        try
        {
            built = ToolCallGrammar.BuildLazy(syntax, Functions, Parallel);
        }
        catch (UnsupportedSchemaException ex)
        {
            throw RequestReader.Invalid("tools", $"A strict tool's arguments cannot be enforced: {ex.Message}", "unsupported_schema");
        }
        var grammar = new SamplingGrammar(built.Gbnf);
        if (checker.FindProblem(grammar) is { } problem)
            throw RequestReader.Invalid("tools", $"Strict tools cannot be enforced with this model: {problem}.", "unsupported_grammar");
        return new LazyGrammar(grammar, built.Markers, built.Openings, built.Rearm)
        {
            Reasoning = reasoning is null ? null : new ReasoningBlock(reasoning.Open, reasoning.Close, startsInReasoning),
        };
    }

    /// <summary>Refuses tools the template dropped from the prompt: llama-server silently ignores them, which leaves clients guessing.</summary>
    public void CheckRendered(IChatPromptRenderer renderer, string prompt)
    {
        if (Functions.FirstOrDefault(f => !prompt.Contains(f.Name, StringComparison.Ordinal)) is { } missing)
            throw RequestReader.Invalid("tools", $"This model's chat template ({renderer.Name}) dropped the tool '{missing.Name}' from the prompt, so the model would never see it.", "tools_not_supported");
    }

    private static (JsonArray?, List<FunctionDefinition>) ReadTools(JsonNode? node)
    {
        if (node is null) return (null, []);
        if (node is not JsonArray tools) throw RequestReader.WrongType("tools", "an array", node);
        var functions = new List<FunctionDefinition>();
        for (var i = 0; i < tools.Count; i++)
        {
            var param = $"tools[{i}]";
            if (tools[i] is not JsonObject tool) throw RequestReader.WrongType(param, "an object", tools[i]);
            if (tool["type"]?.GetValueKind() != System.Text.Json.JsonValueKind.String || (string)tool["type"]! != "function")
                throw RequestReader.Invalid($"{param}.type", "Only tools of type 'function' are supported.");
            if (tool["function"] is not JsonObject function) throw RequestReader.WrongType($"{param}.function", "an object", tool["function"]);
            var name = RequestReader.Within($"{param}.function", () => new RequestReader(function).RequiredName("name"));
            if (functions.Any(f => f.Name == name))
                throw RequestReader.Invalid($"{param}.function.name", $"The function name '{name}' appears more than once in 'tools'.");
            var parameters = function["parameters"];
            if (parameters is not null and not JsonObject)
                throw RequestReader.WrongType($"{param}.function.parameters", "a JSON Schema object", parameters);
            var strict = RequestReader.Within($"{param}.function", () => new RequestReader(function).OptionalBool("strict")) ?? false;
            functions.Add(new FunctionDefinition(name, parameters, strict));
        }
        return (functions.Count == 0 ? null : tools, functions);
    }

    private static (ToolChoice, string?) ReadChoice(JsonNode? node, List<FunctionDefinition> functions)
    {
        var choice = node switch
        {
            null => (functions.Count > 0 ? ToolChoice.Auto : ToolChoice.None, null),
            JsonValue v when v.TryGetValue(out string? s) => s switch
            {
                "none" => (ToolChoice.None, null),
                "auto" => (ToolChoice.Auto, null),
                "required" => (ToolChoice.Required, null),
                _ => throw RequestReader.Invalid("tool_choice", $"Invalid 'tool_choice' '{s}': expected 'none', 'auto', 'required' or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}."),
            },
            JsonObject o when o["function"] is JsonObject f && f["name"] is JsonValue n && n.TryGetValue(out string? name) =>
                (ToolChoice.Named, (string?)name),
            _ => throw RequestReader.WrongType("tool_choice", "a string or {\"type\": \"function\", \"function\": {\"name\": ...}}", node),
        };
        if (choice.Item1 is ToolChoice.Required or ToolChoice.Named && functions.Count == 0)
            throw RequestReader.Invalid("tool_choice", "'tool_choice' needs 'tools' to choose from.");
        if (choice.Item1 == ToolChoice.Named && functions.All(f => f.Name != choice.Item2))
            throw RequestReader.Invalid("tool_choice", $"'tool_choice' names the function '{choice.Item2}', which is not in 'tools'.");
        return choice;
    }
}
