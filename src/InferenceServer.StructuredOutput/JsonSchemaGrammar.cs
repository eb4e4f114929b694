using System.Text.Json.Nodes;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// Turns OpenAI <c>response_format</c> constraints into GBNF grammars for llama.cpp's grammar sampler.
/// Stateless and thread-safe. Every grammar has its start rule named <c>root</c>, produces compact JSON
/// (no leading or trailing whitespace) and allows at most 9 whitespace characters between tokens, so a
/// model cannot spend its whole budget on whitespace.
/// </summary>
public static class JsonSchemaGrammar
{
    private static readonly Lazy<string> AnyObject = new(() =>
    {
        var builder = new GrammarBuilder();
        return builder.Build(JsonPrimitives.AnyObject(builder));
    });

    /// <summary>Grammar for <c>{"type": "json_object"}</c>: any JSON object.</summary>
    public static string AnyJsonObject => AnyObject.Value;

    /// <summary>
    /// Grammar whose every complete output is a JSON text valid against <paramref name="schema"/>
    /// (a JSON Schema, draft 2020-12 with the common draft-07 spellings). Object properties come out
    /// in the schema's order; optional ones may be left out. <c>oneOf</c> is treated as <c>anyOf</c>.
    /// </summary>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword or construct this
    /// converter cannot enforce; <see cref="UnsupportedSchemaException.Path"/> says where.</exception>
    public static string FromSchema(JsonNode schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return SchemaConverter.Convert(schema);
    }
}
