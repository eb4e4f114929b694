using System.Text.Json.Nodes;

namespace InferenceServer.StructuredOutput.Tests;

/// <summary>The converter's languages, checked by llama.cpp's own grammar engine: each case feeds a
/// string byte by byte and asks whether the grammar accepts it.</summary>
[Collection(ModelsCollection.Name)]
public sealed class ConverterTests(ModelsFixture models)
{
    private bool Accepts(string schema, string text) =>
        GrammarRunner.Accepts(models.Stories, JsonSchemaGrammar.FromSchema(JsonNode.Parse(schema)!), text);

    [Theory]
    [InlineData("""{"a":1}""", true)]
    [InlineData("""{ "a" : [1, 2.5e3, "x\n\u00e9", true, null, {"b": {}}] }""", true)]
    [InlineData("{}", true)]
    [InlineData("[]", false)]
    [InlineData("\"x\"", false)]
    [InlineData("""{"a":1,}""", false)]
    [InlineData("""{"a":01}""", false)]
    [InlineData(" {}", false)]
    public void AnyJsonObject_accepts_objects_only(string text, bool expected) =>
        Assert.Equal(expected, GrammarRunner.Accepts(models.Stories, JsonSchemaGrammar.AnyJsonObject, text));

    [Fact]
    public void Whitespace_between_tokens_is_bounded()
    {
        var nine = "\n" + new string(' ', 8);
        Assert.True(GrammarRunner.Accepts(models.Stories, JsonSchemaGrammar.AnyJsonObject, "{" + nine + "\"a\":1}"));
        Assert.False(GrammarRunner.Accepts(models.Stories, JsonSchemaGrammar.AnyJsonObject, "{" + nine + " \"a\":1}"));
        Assert.False(GrammarRunner.Accepts(models.Stories, JsonSchemaGrammar.AnyJsonObject, "{  \"a\":1}"));
    }

    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"}},
         "required":["name"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData("""{"name":"Ann"}""", true)]
    [InlineData("""{"name":"Ann","age":3}""", true)]
    [InlineData("""{"name":"Ann","email":"a"}""", true)]
    [InlineData("""{"name":"Ann","age":3,"email":"a"}""", true)]
    [InlineData("""{"age":3}""", false)]
    [InlineData("""{"age":3,"name":"Ann"}""", false)]
    [InlineData("""{"name":"Ann","other":1}""", false)]
    [InlineData("""{"name":3}""", false)]
    public void Optional_properties_may_be_omitted_in_order(string text, bool expected) => Assert.Equal(expected, Accepts(Person, text));

    [Theory]
    [InlineData("""{"a":1,"b":"x"}""", true)]
    [InlineData("""{"a":1}""", true)]
    [InlineData("""{"b":"x"}""", true)]
    [InlineData("""{"a":1,"zz":"x"}""", true)]
    [InlineData("""{"a":1,"ab":"x","a1":"y"}""", true)]
    [InlineData("""{"a":1,"a":"x"}""", false)]
    [InlineData("""{"a":1,"b":"x","b":"y"}""", false)]
    [InlineData("""{"a":1,"zz":2}""", false)]
    public void Additional_properties_exclude_declared_keys(string text, bool expected) => Assert.Equal(expected, Accepts(
        """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"additionalProperties":{"type":"string"}}""", text));

    [Theory]
    [InlineData(-5, 7)]
    [InlineData(0, 100)]
    [InlineData(13, 247)]
    [InlineData(-120, -7)]
    [InlineData(95, 1005)]
    [InlineData(-1005, 2000)]
    public void Integer_ranges_are_exact(int min, int max)
    {
        var gbnf = JsonSchemaGrammar.FromSchema(JsonNode.Parse($$"""{"type":"integer","minimum":{{min}},"maximum":{{max}}}""")!);
        for (int value = min - 15; value <= max + 15; value += value % 7 == 0 ? 3 : 1)
            Assert.True(GrammarRunner.Accepts(models.Stories, gbnf, value.ToString(System.Globalization.CultureInfo.InvariantCulture)) == (value >= min && value <= max), $"{value} in [{min},{max}]");
        Assert.False(GrammarRunner.Accepts(models.Stories, gbnf, "-0"));
        Assert.False(GrammarRunner.Accepts(models.Stories, gbnf, "007"));
    }

    [Theory]
    [InlineData("""{"type":"integer","exclusiveMinimum":0}""", "0", false)]
    [InlineData("""{"type":"integer","exclusiveMinimum":0}""", "1", true)]
    [InlineData("""{"type":"integer","minimum":10}""", "123456", true)]
    [InlineData("""{"type":"integer","minimum":10}""", "9", false)]
    [InlineData("""{"type":"integer","maximum":-3}""", "-4000", true)]
    [InlineData("""{"type":"integer","maximum":-3}""", "-2", false)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "0.25", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1.5", false)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "-0.5", false)]
    [InlineData("""{"type":"number"}""", "-1.5e-3", true)]
    [InlineData("""{"type":"number"}""", ".5", false)]
    public void Numbers(string schema, string text, bool expected) => Assert.Equal(expected, Accepts(schema, text));

    [Theory]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"ab\"", true)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"a\\nb\"", true)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"a\"", false)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}""", "\"AB-123\"", true)]
    [InlineData("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}""", "\"AB-12\"", false)]
    [InlineData("""{"type":"string","pattern":"^(cat|dog)s?$"}""", "\"dogs\"", true)]
    [InlineData("""{"type":"string","pattern":"^(cat|dog)s?$"}""", "\"cow\"", false)]
    [InlineData("""{"type":"string","pattern":"^a\"b\\\\c$"}""", "\"a\\\"b\\\\c\"", true)]
    [InlineData("""{"type":"string","pattern":"^[^a-z]+$"}""", "\"AB1\"", true)]
    [InlineData("""{"type":"string","pattern":"^[^a-z]+$"}""", "\"Ab\"", false)]
    [InlineData("""{"type":"string","pattern":"^.{1,3}$"}""", "\"\u00e9\u00e9\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-02-28\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-13-01\"", false)]
    [InlineData("""{"type":"string","format":"date-time"}""", "\"2024-02-28T23:59:59.5+01:00\"", true)]
    [InlineData("""{"type":"string","format":"time"}""", "\"24:00:00Z\"", false)]
    [InlineData("""{"type":"string","format":"uuid"}""", "\"123e4567-e89b-12d3-a456-426614174000\"", true)]
    [InlineData("""{"type":"string","format":"uuid"}""", "\"123e4567e89b12d3a456426614174000\"", false)]
    [InlineData("""{"type":"string","format":"email"}""", "\"ann.lee@example.org\"", true)]
    [InlineData("""{"type":"string","format":"email"}""", "\"ann@\"", false)]
    [InlineData("""{"type":"string","format":"ipv4"}""", "\"192.168.0.255\"", true)]
    [InlineData("""{"type":"string","format":"ipv4"}""", "\"256.1.1.1\"", false)]
    public void Strings(string schema, string text, bool expected) => Assert.Equal(expected, Accepts(schema, text));

    [Theory]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""", "[1]", true)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""", "[1, 2,3]", true)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""", "[]", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""", "[1,2,3,4]", false)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}""", "[\"a\",1]", true)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}""", "[\"a\"]", true)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}""", "[\"a\",1,2]", false)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"boolean"},"minItems":2}""", "[\"a\",true,false]", true)]
    [InlineData("""{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"boolean"},"minItems":2}""", "[\"a\"]", false)]
    [InlineData("""{"enum":["red","green",3,null]}""", "\"green\"", true)]
    [InlineData("""{"enum":["red","green",3,null]}""", "null", true)]
    [InlineData("""{"enum":["red","green",3,null]}""", "\"blue\"", false)]
    [InlineData("""{"const":{"k":[1,"x"]}}""", "{\"k\":[1,\"x\"]}", true)]
    [InlineData("""{"type":["string","null"]}""", "null", true)]
    [InlineData("""{"type":["string","null"]}""", "1", false)]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"boolean"}]}""", "true", true)]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"boolean"}]}""", "\"x\"", false)]
    // oneOf is anyOf (llama.cpp, vLLM): overlapping branches are accepted, and a value matching both is allowed.
    [InlineData("""{"oneOf":[{"type":"integer"},{"type":"integer","minimum":0}]}""", "5", true)]
    [InlineData("""{"oneOf":[{"type":"string","maxLength":2},{"type":"string","minLength":1}]}""", "\"abc\"", true)]
    [InlineData("""{"oneOf":[{"type":"string","maxLength":2},{"type":"string","minLength":1}]}""", "1", false)]
    [InlineData("""{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}""", "{\"a\":1,\"b\":true}", true)]
    [InlineData("""{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}""", "{\"a\":1}", false)]
    public void Arrays_enums_and_combinators(string schema, string text, bool expected) => Assert.Equal(expected, Accepts(schema, text));

    private const string Tree = """
        {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},
          "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value"],"additionalProperties":false}}}
        """;

    [Theory]
    [InlineData("""{"value":1}""", true)]
    [InlineData("""{"value":1,"children":[{"value":2,"children":[{"value":3}]},{"value":4}]}""", true)]
    [InlineData("""{"value":1,"children":[{"value":2},{"value":3},{"value":4}]}""", false)]
    [InlineData("""{"value":1,"children":[{}]}""", false)]
    public void Recursive_references(string text, bool expected) => Assert.Equal(expected, Accepts(Tree, text));

    [Theory]
    [InlineData("""{"type":"array","uniqueItems":true}""", "", "uniqueItems")]
    [InlineData("""{"type":"object","properties":{"a":{"not":{"type":"string"}}}}""", "/properties/a", "not")]
    [InlineData("""{"type":"object","properties":{"a~b/c":{"type":"string","pattern":"(?=x)"}}}""", "/properties/a~0b~1c/pattern", "pattern")]
    [InlineData("""{"type":"string","pattern":"\\bword"}""", "/pattern", "pattern")]
    [InlineData("""{"type":"string","pattern":"(a)\\1"}""", "/pattern", "pattern")]
    [InlineData("""{"type":"string","format":"hostname"}""", "/format", "format")]
    [InlineData("""{"type":"number","multipleOf":2}""", "", "multipleOf")]
    [InlineData("""{"type":"number","minimum":-1.5}""", "", "minimum")]
    [InlineData("""{"$ref":"http://example.com/schema"}""", "", "$ref")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "", "$ref")]
    [InlineData("""{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}}""", "/$defs/a/anyOf/0", "$ref")]
    [InlineData("""{"type":"string","maxLength":100000}""", "", "maxLength")]
    [InlineData("""{"type":"object","properties":{"a":false},"required":["a"]}""", "/properties/a", "false")]
    [InlineData("""{"allOf":[{"type":"string"},{"type":"integer"}]}""", "/allOf/1", "type")]
    [InlineData("""{"type":"frob"}""", "", "type")]
    // The outer additionalProperties:false forbids "a" (allOf members' properties do not count): unsatisfiable.
    [InlineData("""{"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]}],"additionalProperties":false}""", "", "additionalProperties")]
    public void Unsupported_schemas_name_keyword_and_path(string schema, string path, string keyword)
    {
        var error = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.FromSchema(JsonNode.Parse(schema)!));
        Assert.Equal(keyword, error.Keyword);
        Assert.Equal(path, error.Path);
        Assert.Contains(keyword, error.Message);
    }

    [Fact]
    public void Repeated_shapes_share_rules()
    {
        var address = """{"type":"object","properties":{"street":{"type":"string","maxLength":40},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["street","zip"],"additionalProperties":false}""";
        var one = JsonSchemaGrammar.FromSchema(JsonNode.Parse($$"""{"type":"object","properties":{"home":{{address}}},"required":["home"],"additionalProperties":false}""")!);
        var three = JsonSchemaGrammar.FromSchema(JsonNode.Parse($$"""{"type":"object","properties":{"home":{{address}},"work":{{address}},"other":{{address}}},"required":["home","work","other"],"additionalProperties":false}""")!);
        // Two more properties cost two kv rules and their keys, not two more copies of the address.
        Assert.True(three.Length - one.Length < 200, $"{one.Length} -> {three.Length}\n{three}");
    }
}
