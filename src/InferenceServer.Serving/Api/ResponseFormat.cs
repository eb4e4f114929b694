using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.Engine;
using InferenceServer.StructuredOutput;

namespace InferenceServer.Api;

/// <summary>
/// Structured output: <c>response_format</c> (text, json_object, json_schema) and the raw GBNF <c>grammar</c>
/// extension (as llama-server names it) become one grammar that constrains every sampled token. Every grammar
/// is checked against the model first: llama.cpp crashes the process on one it rejects.
/// </summary>
internal static class ResponseFormat
{
    public static SamplingGrammar? Read(RequestReader reader, IGrammarChecker checker)
    {
        var (grammar, param) = reader.Get("response_format") switch
        {
            null => (null, "response_format"),
            JsonObject format => FromFormat(format),
            var other => throw RequestReader.WrongType("response_format", "an object", other),
        };
        if (reader.OptionalString("grammar") is { } gbnf)
        {
            if (grammar is not null)
                throw RequestReader.Invalid("grammar", "Send either 'grammar' or a JSON 'response_format', not both.");
            (grammar, param) = (gbnf, "grammar");
        }
        if (grammar is null) return null;

        var checkedGrammar = new SamplingGrammar(grammar);
        return checker.FindProblem(checkedGrammar) is { } problem
            ? throw RequestReader.Invalid(param, $"This output format cannot be enforced with this model: {problem}.", "unsupported_grammar")
            : checkedGrammar;
    }

    private static (string? Grammar, string Param) FromFormat(JsonObject format)
    {
        var type = new RequestReader(format).OptionalString("type")
                   ?? throw RequestReader.Invalid("response_format.type", "Missing required parameter: 'response_format.type'.", "missing_required_parameter");
        switch (type)
        {
            case "text":
                return (null, "response_format");
            case "json_object":
                return (JsonSchemaGrammar.AnyJsonObject, "response_format");
            case "json_schema":
                if (format["json_schema"] is not JsonObject jsonSchema)
                    throw RequestReader.WrongType("response_format.json_schema", "an object", format["json_schema"]);
                RequestReader.Within("response_format.json_schema", () => new RequestReader(jsonSchema).RequiredName("name"));
                if (jsonSchema["schema"] is not JsonObject schema)
                    throw RequestReader.WrongType("response_format.json_schema.schema", "a JSON Schema object", jsonSchema["schema"]);
                try
                {
                    return (JsonSchemaGrammar.FromSchema(schema), "response_format.json_schema.schema");
                }
                catch (UnsupportedSchemaException ex)
                {
                    throw RequestReader.Invalid($"response_format.json_schema.schema{ex.Path}", ex.Message, "unsupported_schema");
                }
            default:
                throw RequestReader.Invalid("response_format.type", $"Invalid 'response_format.type' '{type}': expected 'text', 'json_object' or 'json_schema'.");
        }
    }
}
