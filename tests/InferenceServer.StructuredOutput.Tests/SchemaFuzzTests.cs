using System.Text.Json.Nodes;
using InferenceServer.Llama;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>
/// Seeded random schemas, supported and not. For each: the converter either throws the typed
/// exception (with a keyword and a JSON Pointer) or returns a grammar that passes the native guard;
/// and whenever greedy generation under that grammar finishes, the output validates.
/// </summary>
[Collection(ModelsCollection.Name)]
public sealed class SchemaFuzzTests(ModelsFixture models, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Cases = 300;

    [Fact]
    public void Random_schemas_convert_or_fail_with_a_typed_error()
    {
        // Fixed by default so the suite is deterministic; set STRUCTURED_OUTPUT_FUZZ_SEED to explore.
        int seed = int.TryParse(Environment.GetEnvironmentVariable("STRUCTURED_OUTPUT_FUZZ_SEED"), out var s) ? s : 20261126;
        var random = new Random(seed);
        int converted = 0, unsupported = 0, generated = 0;
        for (int i = 0; i < Cases; i++)
        {
            var generator = new SchemaGenerator(random);
            var schema = generator.Root();
            var schemaText = schema.ToJsonString();
            string gbnf;
            try
            {
                gbnf = JsonSchemaGrammar.FromSchema(schema);
            }
            catch (UnsupportedSchemaException e)
            {
                unsupported++;
                Assert.False(string.IsNullOrEmpty(e.Keyword), schemaText);
                Assert.True(e.Path.Length == 0 || e.Path[0] == '/', $"{e.Path} {schemaText}");
                continue;
            }
            converted++;
            var check = GrammarGuard.Check(models.Stories.NativeHandle, gbnf);
            Assert.True(check.IsUsable, $"case {i}: {check.Error}\n{schemaText}\n{gbnf}");
            var generation = GrammarRunner.Generate(models.Stories, models.StoriesParams, gbnf, maxTokens: 120, seed: (uint)i);
            if (generation.Finish == FinishReason.Stop)
            {
                generated++;
                // oneOf is generated as anyOf (docs/structured-output.md), and judged as such.
                SchemaValidation.AssertValid(schemaText.Replace("\"oneOf\":", "\"anyOf\":"), generation.Text, $"case {i}");
            }
        }
        output.WriteLine($"{Cases} schemas: {converted} converted, {unsupported} unsupported; {generated} generations finished and validated");
        // The generator must exercise both outcomes, and enough outputs must reach the validator.
        Assert.True(converted >= Cases / 3, $"converted {converted}, unsupported {unsupported}");
        Assert.True(unsupported >= Cases / 10, $"converted {converted}, unsupported {unsupported}");
        Assert.True(generated >= converted / 3, $"generated {generated} of {converted}");
    }

    private sealed class SchemaGenerator(Random random)
    {
        private static readonly string[] Names = ["id", "name", "a", "b", "ab", "a~b", "x/y", "é", "q\"t", "with space", "", "value", "items"];
        private static readonly string[] Patterns = ["^[a-z]{1,4}$", "^\\d{2}-\\d{2}$", "^(yes|no)$", "[A-Z]", "^a.?b$", "^[^\"]{0,3}$",
            "(?=a)", "\\bx", "(a)\\1", "^\\p{L}$", "a{2,", "^x*$"];
        private static readonly string[] Formats = ["date", "time", "date-time", "uuid", "email", "ipv4", "uri", "hostname"];
        private static readonly (string Keyword, string Value)[] Rare =
            [("uniqueItems", "true"), ("not", "{}"), ("multipleOf", "2"), ("patternProperties", "{}"), ("if", "true"), ("contains", "{}")];
        private readonly List<string> _defs = [];

        public JsonObject Root()
        {
            int defCount = random.Next(3);
            for (int i = 0; i < defCount; i++)
                _defs.Add("d" + i);
            var root = Schema(0) as JsonObject ?? new JsonObject { ["type"] = "object" };
            if (defCount > 0)
            {
                var defs = new JsonObject();
                foreach (var name in _defs)
                {
                    // A definition that is only a $ref (possibly to itself) makes JsonSchema.Net refuse the
                    // whole document even when nothing uses it, so definitions get a body of their own.
                    JsonNode body;
                    do
                        body = Schema(1);
                    while (body is JsonObject { Count: 1 } bare && bare.ContainsKey("$ref"));
                    defs[name] = body;
                }
                root["$defs"] = defs;
            }
            return root;
        }

        private JsonNode Schema(int depth)
        {
            int choice = random.Next(depth >= 3 ? 6 : 16);
            JsonNode schema = choice switch
            {
                0 => StringSchema(),
                1 => IntegerSchema(),
                2 => new JsonObject { ["type"] = "number" },
                3 => new JsonObject { ["type"] = "boolean" },
                4 => new JsonObject { ["enum"] = new JsonArray(Enumerable.Range(0, 1 + random.Next(4)).Select(_ => Literal()).ToArray()) },
                5 => _defs.Count > 0 ? new JsonObject { ["$ref"] = "#/$defs/" + _defs[random.Next(_defs.Count)] } : new JsonObject { ["const"] = Literal() },
                6 or 7 or 8 => ObjectSchema(depth),
                9 or 10 => ArraySchema(depth),
                11 => new JsonObject { ["anyOf"] = new JsonArray(Schema(depth + 1), Schema(depth + 1)) },
                12 => new JsonObject { ["oneOf"] = new JsonArray(Schema(depth + 1), Schema(depth + 1)) },
                13 => new JsonObject { ["allOf"] = new JsonArray(Schema(depth + 1), Schema(depth + 1)) },
                14 => new JsonObject { ["type"] = new JsonArray("string", "null"), ["maxLength"] = random.Next(6) },
                _ => random.Next(3) == 0 ? JsonValue.Create(true) : (JsonNode)new JsonObject(),
            };
            if (schema is JsonObject o && random.Next(12) == 0)
            {
                var (keyword, value) = Rare[random.Next(Rare.Length)];
                o[keyword] = JsonNode.Parse(value);
            }
            return schema;
        }

        private JsonNode? Literal() => random.Next(6) switch
        {
            0 => JsonValue.Create(Names[random.Next(Names.Length)]),
            1 => JsonValue.Create(random.Next(-50, 50)),
            2 => JsonValue.Create(random.Next(2) == 0),
            3 => null,
            4 => JsonValue.Create(random.Next(100) / 8.0),
            _ => new JsonObject { ["k"] = random.Next(3) },
        };

        private JsonObject StringSchema()
        {
            var s = new JsonObject { ["type"] = "string" };
            switch (random.Next(4))
            {
                case 0: s["maxLength"] = random.Next(8); if (random.Next(2) == 0) s["minLength"] = random.Next(4); break;
                case 1: s["pattern"] = Patterns[random.Next(Patterns.Length)]; break;
                case 2: s["format"] = Formats[random.Next(Formats.Length)]; break;
            }
            return s;
        }

        private JsonObject IntegerSchema()
        {
            var s = new JsonObject { ["type"] = "integer" };
            if (random.Next(2) == 0) s["minimum"] = random.Next(-1200, 1200);
            if (random.Next(2) == 0) s["maximum"] = random.Next(-1200, 1200);
            if (random.Next(4) == 0) s["exclusiveMinimum"] = random.Next(-20, 20);
            return s;
        }

        private JsonObject ObjectSchema(int depth)
        {
            var properties = new JsonObject();
            var names = Names.OrderBy(_ => random.Next()).Take(random.Next(4)).ToList();
            foreach (var name in names)
                properties[name] = Schema(depth + 1);
            var s = new JsonObject { ["type"] = "object", ["properties"] = properties };
            var required = names.Where(_ => random.Next(2) == 0).Select(n => (JsonNode?)n).ToList();
            if (random.Next(8) == 0)
                required.Add("extra");
            s["required"] = new JsonArray(required.ToArray());
            s["additionalProperties"] = random.Next(4) switch
            {
                0 => JsonValue.Create(false),
                1 => JsonValue.Create(true),
                2 => new JsonObject { ["type"] = "integer", ["minimum"] = 0, ["maximum"] = 9 },
                _ => null,
            };
            if (s["additionalProperties"] is null)
                s.Remove("additionalProperties");
            if (random.Next(6) == 0)
                s["maxProperties"] = random.Next(5);
            return s;
        }

        private JsonObject ArraySchema(int depth)
        {
            var s = new JsonObject { ["type"] = "array" };
            if (random.Next(3) == 0)
            {
                s["prefixItems"] = new JsonArray(Schema(depth + 1), Schema(depth + 1));
                if (random.Next(2) == 0) s["items"] = false;
            }
            else
            {
                s["items"] = Schema(depth + 1);
            }
            if (random.Next(2) == 0) s["minItems"] = random.Next(3);
            s["maxItems"] = random.Next(1, 4);
            return s;
        }
    }
}
