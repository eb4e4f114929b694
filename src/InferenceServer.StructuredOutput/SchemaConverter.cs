using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// One conversion: walks a schema and emits GBNF rules into a <see cref="GrammarBuilder"/>.
/// Each Visit returns a GBNF expression that matches one JSON value (no surrounding whitespace).
/// Invariant: anything the grammar can produce validates against the schema; a keyword that would
/// break that promise and cannot be enforced throws <see cref="UnsupportedSchemaException"/>.
/// </summary>
internal sealed class SchemaConverter
{
    public const int MaxDepth = 64;
    public const int MaxRepetition = RegexToGbnf.MaxRepetition;

    /// <summary>Keywords that never constrain the instance.</summary>
    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "$anchor", "readOnly",
        "writeOnly", "deprecated", "contentMediaType", "contentEncoding", "contentSchema", "$defs", "definitions",
        "discriminator", "example", "$vocabulary",
    };

    /// <summary>Assertion keywords this converter does not enforce (some only in certain forms; see Visit).</summary>
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "patternProperties", "dependentRequired", "dependentSchemas", "dependencies", "if", "then",
        "else", "not", "contains", "minContains", "maxContains", "unevaluatedProperties", "unevaluatedItems",
        "multipleOf", "$dynamicRef", "$recursiveRef", "$dynamicAnchor", "$recursiveAnchor",
    };

    private readonly JsonNode _root;
    private readonly GrammarBuilder _g = new();
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);
    // $refs entered since the last "{" or "[": meeting one again means a cycle that consumes no input
    // (left recursion), which llama.cpp rejects.
    private HashSet<string> _refsWithoutProgress = new(StringComparer.Ordinal);

    private SchemaConverter(JsonNode root) => _root = root;

    public static string Convert(JsonNode schema)
    {
        var converter = new SchemaConverter(schema);
        var root = converter.Visit(schema, "", "root", 0);
        if (converter._g.ApproximateSize > GrammarBuilder.MaxGrammarChars)
            throw new UnsupportedSchemaException("", "schema", $"the grammar would exceed {GrammarBuilder.MaxGrammarChars} characters");
        return converter._g.Build(root);
    }

    private string Ws => JsonPrimitives.Ws(_g);

    private string Visit(JsonNode? node, string path, string hint, int depth)
    {
        if (depth > MaxDepth)
            throw new UnsupportedSchemaException(path, "schema", $"nesting deeper than {MaxDepth}");
        switch (node)
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.True:
                return JsonPrimitives.AnyValue(_g);
            case JsonValue v when v.GetValueKind() == JsonValueKind.False:
                throw new UnsupportedSchemaException(path, "false", "the schema 'false' matches nothing");
            case JsonObject schema:
                return VisitObject(schema, path, hint, depth);
            default:
                throw new UnsupportedSchemaException(path, "schema", "a schema must be an object or a boolean");
        }
    }

    private string VisitObject(JsonObject schema, string path, string hint, int depth)
    {
        foreach (var (key, _) in schema)
            if (Unsupported.Contains(key))
                throw new UnsupportedSchemaException(path, key, "this keyword is not supported");
        if (schema["uniqueItems"] is { } unique && unique.GetValueKind() != JsonValueKind.False)
            throw new UnsupportedSchemaException(path, "uniqueItems", "uniqueness cannot be enforced by a grammar");

        if (schema["$ref"] is { } reference)
        {
            var target = reference.GetValueKind() == JsonValueKind.String
                ? reference.GetValue<string>()
                : throw new UnsupportedSchemaException(path, "$ref", "must be a string");
            if (!schema.Any(p => p.Key != "$ref" && !Annotations.Contains(p.Key)))
                return RefRule(target, path);
            var rest = new JsonObject();
            foreach (var (key, value) in schema)
                if (key != "$ref")
                    rest[key] = value?.DeepClone();
            return Visit(new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = target }, rest) }, path, hint, depth + 1);
        }

        if (schema["allOf"] is { } allOf)
            return Visit(SchemaMerger.MergeAllOf(schema, path, this.ResolveRef), path, hint, depth + 1);

        foreach (var keyword in new[] { "anyOf", "oneOf" })
        {
            if (schema[keyword] is not { } branchesNode)
                continue;
            if (branchesNode is not JsonArray { Count: > 0 } branches)
                throw new UnsupportedSchemaException(path, keyword, "must be a non-empty array");
            var siblings = new JsonObject();
            foreach (var (key, value) in schema)
                if (key != keyword && !Annotations.Contains(key))
                    siblings[key] = value?.DeepClone();
            // oneOf is anyOf, as in llama.cpp and vLLM: a grammar offers the branches as alternatives and cannot
            // rule out a value that matches two of them (docs/structured-output.md).
            var alternatives = new List<string>();
            for (int i = 0; i < branches.Count; i++)
            {
                var branch = siblings.Count == 0
                    ? branches[i]
                    : new JsonObject { ["allOf"] = new JsonArray(siblings.DeepClone(), branches[i]?.DeepClone()) };
                alternatives.Add(Visit(branch, $"{path}/{keyword}/{i}", $"{hint}-{i}", depth + 1));
            }
            return Alternatives(hint, alternatives);
        }

        if (schema.ContainsKey("const") || schema.ContainsKey("enum"))
        {
            // Listed values are emitted as they are, so nothing may constrain them further.
            var keyword = schema.ContainsKey("const") ? "const" : "enum";
            if (schema.FirstOrDefault(p => !Annotations.Contains(p.Key) && p.Key is not ("type" or "nullable" or "const" or "enum")) is { Key: { } other })
                throw new UnsupportedSchemaException(path, keyword, $"cannot be combined with '{other}'");
        }

        if (schema.TryGetPropertyValue("const", out var constant))
        {
            var types = DeclaredTypes(schema, path);
            if (types is not null && !Admits(types, constant))
                throw new UnsupportedSchemaException(path, "const", "the value does not have the declared type");
            if (schema["enum"] is JsonArray alsoEnum && !alsoEnum.Any(v => JsonNode.DeepEquals(v, constant)))
                throw new UnsupportedSchemaException(path, "const", "the value is not among the enum values");
            return JsonLiteral(constant);
        }

        if (schema["enum"] is { } enumNode)
        {
            if (enumNode is not JsonArray { Count: > 0 } values)
                throw new UnsupportedSchemaException(path, "enum", "must be a non-empty array");
            var types = DeclaredTypes(schema, path);
            var allowed = values.Where(v => types is null || Admits(types, v)).ToList();
            if (allowed.Count == 0)
                throw new UnsupportedSchemaException(path, "enum", "no value of the enum has the declared type");
            return Alternatives(hint, allowed.Select(JsonLiteral).ToList());
        }

        var typeSet = DeclaredTypes(schema, path) ?? InferTypes(schema);
        if (schema["nullable"] is JsonValue nullable && nullable.GetValueKind() == JsonValueKind.True && typeSet is not null)
            typeSet.Add("null");
        if (typeSet is null)
            return JsonPrimitives.AnyValue(_g);
        if (typeSet.Contains("number"))
            typeSet.Remove("integer");

        var expressions = new List<string>();
        foreach (var type in TypeOrder.Where(typeSet.Contains))
        {
            expressions.Add(type switch
            {
                "object" => ObjectExpression(schema, path, hint, depth),
                "array" => ArrayExpression(schema, path, hint, depth),
                "string" => StringExpression(schema, path, hint),
                "integer" => IntegerExpression(schema, path, hint),
                "number" => NumberExpression(schema, path, hint),
                "boolean" => JsonPrimitives.Boolean(_g),
                _ => JsonPrimitives.Null(_g),
            });
        }
        return Alternatives(hint, expressions);
    }

    private static readonly string[] TypeOrder = ["object", "array", "string", "integer", "number", "boolean", "null"];

    private static HashSet<string>? DeclaredTypes(JsonObject schema, string path)
    {
        if (schema["type"] is not { } type)
            return null;
        var names = type switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
            JsonArray a when a.Count > 0 && a.All(t => t?.GetValueKind() == JsonValueKind.String) => a.Select(t => t!.GetValue<string>()).ToList(),
            _ => throw new UnsupportedSchemaException(path, "type", "must be a type name or a non-empty array of them"),
        };
        foreach (var name in names)
            if (!TypeOrder.Contains(name))
                throw new UnsupportedSchemaException(path, "type", $"unknown type '{name}'");
        return new HashSet<string>(names, StringComparer.Ordinal);
    }

    /// <summary>Without "type", the keywords present say which kinds of value the schema is about;
    /// values of the other kinds would pass validation too, but generating them helps nobody.</summary>
    private static HashSet<string>? InferTypes(JsonObject schema)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        if (schema.ContainsKey("properties") || schema.ContainsKey("additionalProperties") || schema.ContainsKey("required")
            || schema.ContainsKey("minProperties") || schema.ContainsKey("maxProperties"))
            types.Add("object");
        if (schema.ContainsKey("items") || schema.ContainsKey("prefixItems") || schema.ContainsKey("minItems") || schema.ContainsKey("maxItems")
            || schema.ContainsKey("additionalItems") || schema.ContainsKey("uniqueItems"))
            types.Add("array");
        if (schema.ContainsKey("minLength") || schema.ContainsKey("maxLength") || schema.ContainsKey("pattern") || schema.ContainsKey("format"))
            types.Add("string");
        if (schema.ContainsKey("minimum") || schema.ContainsKey("maximum") || schema.ContainsKey("exclusiveMinimum") || schema.ContainsKey("exclusiveMaximum"))
            types.Add("number");
        return types.Count == 0 ? null : types;
    }

    private static string TypeOf(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => IsIntegral(v) ? "integer" : "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
        _ => "null",
    };

    private static bool Admits(HashSet<string> types, JsonNode? value) =>
        types.Contains(TypeOf(value)) || (TypeOf(value) == "integer" && types.Contains("number"));

    private static bool IsIntegral(JsonNode? value) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.Number && decimal.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d);

    private string Alternatives(string hint, List<string> alternatives)
    {
        var distinct = alternatives.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count == 1 ? distinct[0] : _g.Rule(hint, string.Join(" | ", distinct));
    }

    private static string JsonLiteral(JsonNode? value) =>
        Gbnf.Literal(value is null ? "null" : value.ToJsonString());

    // ---- $ref ----------------------------------------------------------------------------------

    private string RefRule(string reference, string path)
    {
        if (_refsWithoutProgress.Contains(reference))
            throw new UnsupportedSchemaException(path, "$ref", $"'{reference}' refers back to itself without an object or array in between (left recursion)");
        if (_refRules.TryGetValue(reference, out var existing))
            return existing;
        var (target, targetPath) = ResolveRef(reference, path);
        var name = _g.Reserve("ref-" + targetPath.Split('/')[^1]);
        _refRules[reference] = name;
        _refsWithoutProgress.Add(reference);
        try
        {
            _g.Define(name, Visit(target, targetPath, name, 1));
        }
        finally
        {
            _refsWithoutProgress.Remove(reference);
        }
        return name;
    }

    /// <summary>Resolves a same-document reference: "#" or a JSON Pointer fragment "#/...".</summary>
    internal (JsonNode? Target, string TargetPath) ResolveRef(string reference, string path)
    {
        if (reference == "#")
            return (_root, "");
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
            throw new UnsupportedSchemaException(path, "$ref", $"only references inside the schema (\"#/...\") are supported, not '{reference}'");
        JsonNode? current = _root;
        foreach (var raw in reference[2..].Split('/'))
        {
            var token = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            current = current switch
            {
                JsonObject o when o.TryGetPropertyValue(token, out var child) => child,
                JsonArray a when int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                _ => throw new UnsupportedSchemaException(path, "$ref", $"'{reference}' does not resolve"),
            };
        }
        return (current, reference[1..]);
    }

    // ---- objects -------------------------------------------------------------------------------

    private string ObjectExpression(JsonObject schema, string path, string hint, int depth)
    {
        var saved = _refsWithoutProgress;
        _refsWithoutProgress = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            return ObjectExpressionCore(schema, path, hint, depth);
        }
        finally
        {
            _refsWithoutProgress = saved;
        }
    }

    private string ObjectExpressionCore(JsonObject schema, string path, string hint, int depth)
    {
        var ws = Ws;
        var properties = new List<(string Key, JsonNode? Schema, string Path)>();
        if (schema["properties"] is { } propsNode)
        {
            if (propsNode is not JsonObject props)
                throw new UnsupportedSchemaException(path, "properties", "must be an object");
            foreach (var (key, value) in props)
                properties.Add((key, value, $"{path}/properties/{EscapePointer(key)}"));
        }
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema["required"] is { } requiredNode)
        {
            if (requiredNode is not JsonArray list || list.Any(k => k?.GetValueKind() != JsonValueKind.String))
                throw new UnsupportedSchemaException(path, "required", "must be an array of strings");
            foreach (var k in list)
            {
                var key = k!.GetValue<string>();
                required.Add(key);
                if (properties.Any(p => p.Key == key))
                    continue;
                // A required key that "properties" does not declare takes the additionalProperties schema.
                var valueSchema = schema["additionalProperties"] ?? JsonValue.Create(true);
                if (valueSchema.GetValueKind() == JsonValueKind.False)
                    throw new UnsupportedSchemaException(path, "required", $"'{key}' is required but additionalProperties forbids it");
                properties.Add((key, valueSchema, $"{path}/additionalProperties"));
            }
        }

        // Extra keys: absent additionalProperties allows them only when no properties are declared
        // (a deliberate narrowing: declared objects come out with declared keys only).
        JsonNode? extra = schema["additionalProperties"];
        bool extraAllowed = extra switch
        {
            null => properties.Count == 0 && !schema.ContainsKey("additionalProperties"),
            JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
            _ => true,
        };
        string? extraKv = null;
        if (schema["propertyNames"] is { } propertyNames && properties.Count > 0)
            throw new UnsupportedSchemaException(path, "propertyNames", "is supported only on objects without declared properties");
        if (extraAllowed)
        {
            var key = properties.Count > 0 ? KeyOtherThan(properties.Select(p => p.Key), hint)
                : schema["propertyNames"] is JsonObject namesSchema ? Visit(WithType(namesSchema, "string"), path + "/propertyNames", hint + "-key", depth + 1)
                : schema["propertyNames"] is { } other && other.GetValueKind() != JsonValueKind.True ? throw new UnsupportedSchemaException(path, "propertyNames", "must be a schema object")
                : JsonPrimitives.String(_g);
            var value = extra is null ? JsonPrimitives.AnyValue(_g) : Visit(extra, path + "/additionalProperties", hint + "-extra", depth + 1);
            extraKv = _g.Rule(hint + "-extra-kv", $"{key} {ws} \":\" {ws} {value} {ws}");
        }

        int minProperties = ReadCount(schema, "minProperties", path) ?? 0;
        int? maxProperties = ReadCount(schema, "maxProperties", path);
        if (properties.Count == 0)
        {
            // Only free-form members: their count is a plain repetition.
            if (minProperties > MaxRepetition || maxProperties > MaxRepetition)
                throw new UnsupportedSchemaException(path, minProperties > MaxRepetition ? "minProperties" : "maxProperties", $"bounds above {MaxRepetition} are not supported");
            if (maxProperties < minProperties || (extraKv is null && minProperties > 0))
                throw new UnsupportedSchemaException(path, "minProperties", "no number of properties satisfies the schema");
            if (extraKv is null || maxProperties == 0)
                return _g.Rule(hint, $"\"{{\" {ws} \"}}\"");
            var more = Repeat($"( \",\" {ws} {extraKv} )", Math.Max(0, minProperties - 1), maxProperties - 1);
            var members = Join(extraKv, more);
            return _g.Rule(hint, $"\"{{\" {ws} {(minProperties > 0 ? members : $"( {members} )?")} \"}}\"");
        }
        if (minProperties > required.Count)
            throw new UnsupportedSchemaException(path, "minProperties", "is supported only when the required properties already meet it");
        if (maxProperties is { } maxP && (extraAllowed || maxP < properties.Count))
            throw new UnsupportedSchemaException(path, "maxProperties", "is supported only when it allows every declared property and no others");

        var kvs = properties.Select(p =>
            _g.Rule($"{hint}-{p.Key}-kv", $"{Gbnf.Literal(JsonSerializer.Serialize(p.Key))} {ws} \":\" {ws} {Visit(p.Schema, p.Path, p.Key, depth + 1)} {ws}")).ToList();

        // From the back: "rest" follows at least one member (each entry starts with a comma),
        // "from" is where no member has been written yet.
        string rest = extraKv is null ? "" : $"( \",\" {ws} {extraKv} )*";
        string from = extraKv is null ? "" : $"( {extraKv} ( \",\" {ws} {extraKv} )* )?";
        for (int i = properties.Count - 1; i >= 0; i--)
        {
            string restNext = rest.Length == 0 ? "" : Name($"{hint}-rest-{i + 1}", rest);
            string withThis = Join(kvs[i], restNext);
            if (required.Contains(properties[i].Key))
            {
                rest = $"\",\" {ws} {withThis}";
                from = withThis;
            }
            else
            {
                rest = Join($"( \",\" {ws} {kvs[i]} )?", restNext);
                from = from.Length == 0 ? $"( {withThis} )?" : $"( {withThis} | {Name($"{hint}-from-{i + 1}", from)} )";
            }
        }
        return _g.Rule(hint, $"\"{{\" {ws} {from} \"}}\"".Replace("  ", " ", StringComparison.Ordinal));
    }

    private static JsonObject WithType(JsonObject schema, string type)
    {
        var copy = schema.DeepClone().AsObject();
        copy["type"] = type;
        return copy;
    }

    private static string Join(string a, string b) => b.Length == 0 ? a : a.Length == 0 ? b : a + " " + b;

    /// <summary>Names an expression when it is more than a single rule reference, to keep bodies short.</summary>
    private string Name(string hint, string expression) =>
        expression.Contains(' ') ? _g.Rule(hint, expression) : expression;

    /// <summary>A JSON string that is none of <paramref name="keys"/> (extra keys must not repeat declared ones).
    /// Built on the trie of the keys' JSON spellings: leave the trie by a character no key has there,
    /// or stop at a node where no key ends.</summary>
    private string KeyOtherThan(IEnumerable<string> keys, string hint)
    {
        var trie = new TrieNode();
        foreach (var key in keys)
        {
            var spelled = JsonSerializer.Serialize(key)[1..^1];
            var node = trie;
            foreach (var c in spelled)
                node = node.Children.TryGetValue(c, out var child) ? child : node.Children[c] = new TrieNode();
            node.IsKeyEnd = true;
        }
        var ch = JsonPrimitives.Char(_g);
        var quote = "\"\\x22\"";
        string Expression(TrieNode node)
        {
            var options = new List<string>();
            var excluded = new List<(int, int)> { (0x00, 0x1F), ('"', '"'), ('\\', '\\') };
            excluded.AddRange(node.Children.Keys.Select(c => ((int)c, (int)c)));
            options.Add($"{Gbnf.CharClass(excluded, negated: true)} {ch}* {quote}");
            foreach (var (c, child) in node.Children.OrderBy(c => c.Key))
                options.Add($"{Gbnf.Literal(c.ToString())} {Expression(child)}");
            if (!node.IsKeyEnd)
                options.Add(quote);
            return _g.Rule(hint + "-other-key", string.Join(" | ", options));
        }
        return _g.Rule(hint + "-other-key", $"{quote} {Expression(trie)}");
    }

    private sealed class TrieNode
    {
        public Dictionary<char, TrieNode> Children { get; } = [];
        public bool IsKeyEnd { get; set; }
    }

    // ---- arrays --------------------------------------------------------------------------------

    private string ArrayExpression(JsonObject schema, string path, string hint, int depth)
    {
        var saved = _refsWithoutProgress;
        _refsWithoutProgress = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            return ArrayExpressionCore(schema, path, hint, depth);
        }
        finally
        {
            _refsWithoutProgress = saved;
        }
    }

    private string ArrayExpressionCore(JsonObject schema, string path, string hint, int depth)
    {
        var ws = Ws;
        // Tuple items: "prefixItems" (2020-12) or an "items" array (draft-07, with "additionalItems").
        JsonArray? prefix = null;
        JsonNode? extraSchema;
        string prefixKeyword = "prefixItems", extraKeyword = "items";
        if (schema["items"] is JsonArray draft7Tuple)
        {
            prefix = draft7Tuple;
            prefixKeyword = "items";
            extraKeyword = "additionalItems";
            extraSchema = schema["additionalItems"];
        }
        else
        {
            if (schema["prefixItems"] is { } p)
                prefix = p as JsonArray ?? throw new UnsupportedSchemaException(path, "prefixItems", "must be an array");
            extraSchema = schema["items"];
        }
        int prefixCount = prefix?.Count ?? 0;
        bool extrasAllowed = extraSchema is not JsonValue v || v.GetValueKind() != JsonValueKind.False;

        int minItems = ReadCount(schema, "minItems", path) ?? 0;
        int? maxItems = ReadCount(schema, "maxItems", path);
        if (!extrasAllowed)
            maxItems = Math.Min(maxItems ?? prefixCount, prefixCount);
        if (minItems > MaxRepetition || maxItems > MaxRepetition)
            throw new UnsupportedSchemaException(path, minItems > MaxRepetition ? "minItems" : "maxItems", $"bounds above {MaxRepetition} are not supported");
        if (maxItems < minItems)
            throw new UnsupportedSchemaException(path, "minItems", "no array length satisfies minItems, maxItems and the tuple length");

        var prefixElements = new List<string>();
        for (int i = 0; i < prefixCount; i++)
            prefixElements.Add(_g.Rule($"{hint}-{i}-item", $"{Visit(prefix![i], $"{path}/{prefixKeyword}/{i}", $"{hint}-{i}", depth + 1)} {ws}"));
        string? extraElement = null;
        if (extrasAllowed && (maxItems is null || maxItems > prefixCount))
        {
            var value = extraSchema is null ? JsonPrimitives.AnyValue(_g) : Visit(extraSchema, $"{path}/{extraKeyword}", hint + "-item", depth + 1);
            extraElement = _g.Rule(hint + "-item", $"{value} {ws}");
        }

        // rest(i): items from position i on, each after a comma (position i-1 is written).
        string Rest(int i)
        {
            if (maxItems is { } max && i >= max)
                return "";
            if (i >= prefixCount)
            {
                if (extraElement is null)
                    return "";
                int need = Math.Max(0, minItems - i);
                int? allow = maxItems - i;
                return Repeat($"( \",\" {ws} {extraElement} )", need, allow);
            }
            var after = Rest(i + 1);
            var withThis = $"\",\" {ws} {prefixElements[i]}" + (after.Length == 0 ? "" : " " + Name($"{hint}-rest-{i + 1}", after));
            return i < minItems ? withThis : $"( {withThis} )?";
        }

        string first;
        if (maxItems == 0)
            first = "";
        else if (prefixCount > 0)
        {
            var after = Rest(1);
            var withFirst = prefixElements[0] + (after.Length == 0 ? "" : " " + Name($"{hint}-rest-1", after));
            first = minItems > 0 ? withFirst : $"( {withFirst} )?";
        }
        else if (extraElement is null)
            first = "";
        else
        {
            var more = Repeat($"( \",\" {ws} {extraElement} )", Math.Max(0, minItems - 1), maxItems - 1);
            var withFirst = extraElement + (more.Length == 0 ? "" : " " + more);
            first = minItems > 0 ? withFirst : $"( {withFirst} )?";
        }
        return _g.Rule(hint, $"\"[\" {ws} {first} \"]\"".Replace("  ", " ", StringComparison.Ordinal));
    }

    private static string Repeat(string item, int min, int? max) => (min, max) switch
    {
        (_, 0) => "",
        (0, null) => item + "*",
        (1, null) => item + "+",
        (_, null) => $"{item}{{{min},}}",
        (0, 1) => item + "?",
        _ when min == max => min == 1 ? item : $"{item}{{{min}}}",
        _ => $"{item}{{{min},{max}}}",
    };

    // ---- strings -------------------------------------------------------------------------------

    private string StringExpression(JsonObject schema, string path, string hint)
    {
        int? minLength = ReadCount(schema, "minLength", path);
        int? maxLength = ReadCount(schema, "maxLength", path);
        var quote = "\"\\x22\"";
        if (schema["format"] is { } formatNode)
        {
            if (schema.ContainsKey("pattern") || minLength is not null || maxLength is not null)
                throw new UnsupportedSchemaException(path, "format", "cannot be combined with pattern, minLength or maxLength");
            var format = formatNode.GetValueKind() == JsonValueKind.String ? formatNode.GetValue<string>() : "";
            var body = StringFormats.Body(format, _g)
                ?? throw new UnsupportedSchemaException(path + "/format", "format", $"format '{format}' is not supported (date, time, date-time, uuid, email, ipv4 are)");
            return _g.Rule(format, $"{quote} {body} {quote}");
        }
        if (schema["pattern"] is { } patternNode)
        {
            if (minLength is not null || maxLength is not null)
                throw new UnsupportedSchemaException(path, "pattern", "cannot be combined with minLength or maxLength");
            if (patternNode.GetValueKind() != JsonValueKind.String)
                throw new UnsupportedSchemaException(path, "pattern", "must be a string");
            var pattern = patternNode.GetValue<string>();
            var body = RegexToGbnf.Translate(pattern, detail => new UnsupportedSchemaException(path + "/pattern", "pattern", detail));
            return _g.Rule(hint + "-pattern", $"{quote} {body} {quote}".Replace("  ", " ", StringComparison.Ordinal));
        }
        if (minLength is null && maxLength is null)
            return JsonPrimitives.String(_g);
        int min = minLength ?? 0;
        if (min > MaxRepetition || maxLength > MaxRepetition)
            throw new UnsupportedSchemaException(path, min > MaxRepetition ? "minLength" : "maxLength", $"bounds above {MaxRepetition} are not supported");
        if (maxLength < min)
            throw new UnsupportedSchemaException(path, "maxLength", "is below minLength");
        // Length counts characters; one "char" rule is one character (an escape spells one too).
        var chars = Repeat(JsonPrimitives.Char(_g), min, maxLength);
        return _g.Rule($"string-{min}-{maxLength?.ToString(CultureInfo.InvariantCulture) ?? "n"}", $"{quote} {chars} {quote}".Replace("  ", " ", StringComparison.Ordinal));
    }

    // ---- numbers -------------------------------------------------------------------------------

    private string IntegerExpression(JsonObject schema, string path, string hint)
    {
        var (min, max) = IntegerBounds(schema, path);
        if (min is null && max is null)
            return JsonPrimitives.Integer(_g);
        if (min > max)
            throw new UnsupportedSchemaException(path, "minimum", "no integer lies between minimum and maximum");
        return _g.Rule($"{hint}-int", IntegerRange.Expression(min, max));
    }

    private string NumberExpression(JsonObject schema, string path, string hint)
    {
        bool bounded = schema.ContainsKey("minimum") || schema.ContainsKey("maximum") || schema.ContainsKey("exclusiveMinimum") || schema.ContainsKey("exclusiveMaximum");
        if (!bounded)
            return JsonPrimitives.Number(_g);
        foreach (var keyword in new[] { "exclusiveMinimum", "exclusiveMaximum" })
            if (schema.ContainsKey(keyword))
                throw new UnsupportedSchemaException(path, keyword, "is supported on integers only");
        decimal? minimum = ReadDecimal(schema, "minimum", path);
        decimal? maximum = ReadDecimal(schema, "maximum", path);
        // Enforceable shape: integer bounds with minimum >= 0, so "I.F" lies in [I, I+1).
        if (minimum is not { } lo || lo < 0 || lo != decimal.Truncate(lo) || lo > long.MaxValue)
            throw new UnsupportedSchemaException(path, "minimum", "number bounds need an integer minimum >= 0");
        if (maximum is { } hi && (hi != decimal.Truncate(hi) || hi < lo || hi > long.MaxValue))
            throw new UnsupportedSchemaException(path, "maximum", "number bounds need an integer maximum >= minimum");
        var fraction = "( \".\" [0-9]{1,12} )?";
        if (maximum is not { } top)
            return _g.Rule($"{hint}-number", $"{Group(IntegerRange.Expression((long)lo, null))} {fraction}");
        var atMax = Gbnf.Literal(((long)top).ToString(CultureInfo.InvariantCulture));
        if (top == lo)
            return atMax;
        return _g.Rule($"{hint}-number", $"{Group(IntegerRange.Expression((long)lo, (long)top - 1))} {fraction} | {atMax}");
    }

    private static string Group(string expression) => expression.Contains(' ') && !(expression.StartsWith('(') && expression.EndsWith(')')) ? $"( {expression} )" : expression;

    private static (long? Min, long? Max) IntegerBounds(JsonObject schema, string path)
    {
        long? min = null, max = null;
        if (ReadDecimal(schema, "minimum", path) is { } minimum)
            min = ToLong(decimal.Ceiling(minimum), path, "minimum");
        if (ReadDecimal(schema, "maximum", path) is { } maximum)
            max = ToLong(decimal.Floor(maximum), path, "maximum");
        // Draft 4 spells exclusive bounds as booleans beside minimum/maximum.
        if (schema["exclusiveMinimum"] is JsonValue exMin)
        {
            if (exMin.GetValueKind() == JsonValueKind.True && ReadDecimal(schema, "minimum", path) is { } m)
                min = Math.Max(min ?? long.MinValue, ToLong(decimal.Floor(m) + 1, path, "exclusiveMinimum"));
            else if (exMin.GetValueKind() == JsonValueKind.Number)
                min = Math.Max(min ?? long.MinValue, ToLong(decimal.Floor(ReadDecimal(schema, "exclusiveMinimum", path)!.Value) + 1, path, "exclusiveMinimum"));
        }
        if (schema["exclusiveMaximum"] is JsonValue exMax)
        {
            if (exMax.GetValueKind() == JsonValueKind.True && ReadDecimal(schema, "maximum", path) is { } m)
                max = Math.Min(max ?? long.MaxValue, ToLong(decimal.Ceiling(m) - 1, path, "exclusiveMaximum"));
            else if (exMax.GetValueKind() == JsonValueKind.Number)
                max = Math.Min(max ?? long.MaxValue, ToLong(decimal.Ceiling(ReadDecimal(schema, "exclusiveMaximum", path)!.Value) - 1, path, "exclusiveMaximum"));
        }
        return (min, max);
    }

    private const long MaxIntegerBound = 999_999_999_999_999; // 15 digits: inside IntegerRange.MaxDigits and exact in double

    private static long ToLong(decimal value, string path, string keyword) =>
        Math.Abs(value) <= MaxIntegerBound ? (long)value : throw new UnsupportedSchemaException(path, keyword, $"bounds beyond ±{MaxIntegerBound} are not supported");

    private static decimal? ReadDecimal(JsonObject schema, string keyword, string path)
    {
        if (schema[keyword] is not { } node)
            return null;
        if (node.GetValueKind() != JsonValueKind.Number || !decimal.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            throw new UnsupportedSchemaException(path, keyword, "must be a number");
        return value;
    }

    private static int? ReadCount(JsonObject schema, string keyword, string path)
    {
        if (schema[keyword] is not { } node)
            return null;
        if (node.GetValueKind() != JsonValueKind.Number || !decimal.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || value < 0 || value != decimal.Truncate(value))
            throw new UnsupportedSchemaException(path, keyword, "must be a non-negative integer");
        return value > int.MaxValue ? int.MaxValue : (int)value;
    }

    internal static string EscapePointer(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
