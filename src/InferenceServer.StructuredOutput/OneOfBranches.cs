using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// "oneOf" demands that exactly one branch matches. A grammar can only offer the branches as
/// alternatives, so oneOf is accepted when no value can match two branches, recognised in the two
/// common shapes: branches of different JSON types, or object branches told apart by a required
/// property whose const/enum values do not overlap (a discriminator). Anything else throws.
/// </summary>
internal static class OneOfBranches
{
    public static void RequireDisjoint(JsonArray branches, string path, Func<string, string, (JsonNode? Target, string TargetPath)> resolve)
    {
        var resolved = branches.Select((b, i) => Resolve(b, $"{path}/oneOf/{i}", resolve)).ToList();
        for (int i = 0; i < resolved.Count; i++)
            for (int j = i + 1; j < resolved.Count; j++)
                if (!Disjoint(resolved[i], resolved[j]))
                    throw new UnsupportedSchemaException(path, "oneOf",
                        $"branches {i} and {j} may both match the same value; use anyOf, distinct types, or a required const discriminator");
    }

    private static JsonObject? Resolve(JsonNode? branch, string path, Func<string, string, (JsonNode?, string)> resolve)
    {
        for (int hops = 0; hops < 16 && branch is JsonObject o && o["$ref"] is JsonValue r && r.GetValueKind() == JsonValueKind.String; hops++)
            branch = resolve(r.GetValue<string>(), path).Item1;
        return branch as JsonObject;
    }

    private static bool Disjoint(JsonObject? a, JsonObject? b)
    {
        if (a is null || b is null)
            return false;
        var typesA = Kinds(a);
        var typesB = Kinds(b);
        if (typesA is not null && typesB is not null && !typesA.Overlaps(typesB))
            return true;
        if (Values(a) is { } valuesA && Values(b) is { } valuesB)
            return !valuesA.Any(x => valuesB.Any(y => JsonNode.DeepEquals(x, y)));
        if (a["properties"] is JsonObject propsA && b["properties"] is JsonObject propsB)
        {
            foreach (var (name, schemaA) in propsA)
            {
                if (!IsRequired(a, name) || !IsRequired(b, name) || !propsB.TryGetPropertyValue(name, out var schemaB))
                    continue;
                if (schemaA is JsonObject sa && schemaB is JsonObject sb && Values(sa) is { } va && Values(sb) is { } vb
                    && !va.Any(x => vb.Any(y => JsonNode.DeepEquals(x, y))))
                    return true;
            }
        }
        return false;
    }

    private static bool IsRequired(JsonObject schema, string name) =>
        schema["required"] is JsonArray r && r.Any(n => n?.GetValueKind() == JsonValueKind.String && n.GetValue<string>() == name);

    private static List<JsonNode?>? Values(JsonObject schema) =>
        schema.TryGetPropertyValue("const", out var c) ? [c] : schema["enum"] is JsonArray e ? e.ToList() : null;

    /// <summary>JSON kinds a schema admits, "number" standing for integers too; null when unknown.</summary>
    private static HashSet<string>? Kinds(JsonObject schema)
    {
        if (Values(schema) is { } values)
            return values.Select(Kind).ToHashSet();
        if (schema["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String)
            return [Normalize(t.GetValue<string>())];
        if (schema["type"] is JsonArray ts && ts.All(x => x?.GetValueKind() == JsonValueKind.String))
            return ts.Select(x => Normalize(x!.GetValue<string>())).ToHashSet();
        return null;
    }

    private static string Normalize(string type) => type == "integer" ? "number" : type;

    private static string Kind(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        _ => value.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
    };
}
