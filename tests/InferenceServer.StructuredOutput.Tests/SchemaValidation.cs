using System.Text.Json;
using Json.Schema;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>An independent judge: JsonSchema.Net, with format assertion switched on.</summary>
internal static class SchemaValidation
{
    public static void AssertValid(string schemaText, string output, string context)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(output);
        }
        catch (JsonException e)
        {
            Assert.Fail($"{context}: output is not JSON ({e.Message}): {output}");
            return;
        }
        using (document)
        {
            JsonSchema schema;
            try
            {
                schema = JsonSchema.FromText(schemaText, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            }
            catch (JsonSchemaException e)
            {
                Assert.Fail($"{context}: JsonSchema.Net cannot load the schema ({e.Message}): {schemaText}\noutput: {output}");
                return;
            }
            var result = schema.Evaluate(document.RootElement, new EvaluationOptions { RequireFormatValidation = true, OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"{context}: output does not validate: {output}\n{JsonSerializer.Serialize(result)}");
        }
    }
}
