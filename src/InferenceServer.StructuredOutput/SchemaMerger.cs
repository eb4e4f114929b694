using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.StructuredOutput;

/// <summary>
/// Folds "allOf" into one schema where the members combine without loss: properties and required
/// lists unite, bounds tighten, types and enums intersect, equal keywords stay. Members that disagree
/// on anything else throw, since a grammar cannot intersect two languages in general.
/// </summary>
internal static class SchemaMerger
{
    private const int MaxRefHops = 32;

    public static JsonObject MergeAllOf(JsonObject schema, string path, Func<string, string, (JsonNode? Target, string TargetPath)> resolve)
    {
        var members = new List<(JsonObject Schema, string Path)>();
        Flatten(schema, path, resolve, members, 0);
        var merged = new JsonObject();
        foreach (var (member, memberPath) in members)
            foreach (var (key, value) in member)
                MergeKeyword(merged, key, value, memberPath);
        ApplyAdditionalProperties(members, merged);
        return merged;
    }

    /// <summary>Collects the members: the schema itself (minus allOf) and each allOf entry, with
    /// $ref entries resolved and nested allOf flattened.</summary>
    private static void Flatten(JsonObject schema, string path, Func<string, string, (JsonNode?, string)> resolve,
        List<(JsonObject, string)> members, int hops)
    {
        if (hops > MaxRefHops)
            throw new UnsupportedSchemaException(path, "allOf", "references inside allOf nest too deeply (a cycle?)");
        if (schema["$ref"] is { } reference)
        {
            if (reference.GetValueKind() != JsonValueKind.String)
                throw new UnsupportedSchemaException(path, "$ref", "must be a string");
            var (target, targetPath) = resolve(reference.GetValue<string>(), path);
            AddMember(target, targetPath, resolve, members, hops + 1);
        }
        var own = new JsonObject();
        foreach (var (key, value) in schema)
            if (key is not ("allOf" or "$ref"))
                own[key] = value?.DeepClone();
        members.Add((own, path));
        if (schema["allOf"] is { } allOf)
        {
            if (allOf is not JsonArray { Count: > 0 } list)
                throw new UnsupportedSchemaException(path, "allOf", "must be a non-empty array");
            for (int i = 0; i < list.Count; i++)
                AddMember(list[i], $"{path}/allOf/{i}", resolve, members, hops + 1);
        }
    }

    private static void AddMember(JsonNode? node, string path, Func<string, string, (JsonNode?, string)> resolve,
        List<(JsonObject, string)> members, int hops)
    {
        switch (node)
        {
            case JsonObject o:
                Flatten(o, path, resolve, members, hops);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.True:
                break;
            default:
                throw new UnsupportedSchemaException(path, "allOf", "members must be schemas other than 'false'");
        }
    }

    private static void MergeKeyword(JsonObject merged, string key, JsonNode? value, string path)
    {
        if (!merged.TryGetPropertyValue(key, out var existing))
        {
            merged[key] = value?.DeepClone();
            return;
        }
        switch (key)
        {
            case "title" or "description" or "default" or "examples" or "$comment" or "$schema" or "$id" or "$defs" or "definitions":
                return;
            case "properties":
                var props = (existing as JsonObject ?? throw new UnsupportedSchemaException(path, key, "must be an object")).DeepClone().AsObject();
                if (value is not JsonObject incoming)
                    throw new UnsupportedSchemaException(path, key, "must be an object");
                foreach (var (name, schema) in incoming)
                    props[name] = props.TryGetPropertyValue(name, out var prior)
                        ? new JsonObject { ["allOf"] = new JsonArray(prior?.DeepClone(), schema?.DeepClone()) }
                        : schema?.DeepClone();
                merged[key] = props;
                return;
            case "required":
                var names = Strings(existing, path, key).Union(Strings(value, path, key)).Select(n => (JsonNode?)n).ToArray();
                merged[key] = new JsonArray(names);
                return;
            case "type":
                var types = Strings(existing, path, key).ToHashSet();
                var incomingTypes = Strings(value, path, key).ToHashSet();
                var both = types.Where(t => incomingTypes.Contains(t) || (t == "integer" && incomingTypes.Contains("number"))).ToList();
                both.AddRange(incomingTypes.Where(t => t == "integer" && types.Contains("number") && !both.Contains(t)));
                if (both.Count == 0)
                    throw new UnsupportedSchemaException(path, key, "allOf members have no type in common");
                merged[key] = new JsonArray(both.Select(t => (JsonNode?)t).ToArray());
                return;
            case "minimum" or "minLength" or "minItems" or "minProperties":
                merged[key] = Number(existing, path, key) >= Number(value, path, key) ? existing!.DeepClone() : value!.DeepClone();
                return;
            case "maximum" or "maxLength" or "maxItems" or "maxProperties":
                merged[key] = Number(existing, path, key) <= Number(value, path, key) ? existing!.DeepClone() : value!.DeepClone();
                return;
            case "enum":
                if (existing is not JsonArray existingValues || value is not JsonArray incomingValues)
                    throw new UnsupportedSchemaException(path, key, "must be an array");
                var kept = existingValues.Where(a => incomingValues.Any(b => JsonNode.DeepEquals(a, b))).Select(n => n?.DeepClone()).ToArray();
                if (kept.Length == 0)
                    throw new UnsupportedSchemaException(path, key, "allOf members share no enum value");
                merged[key] = new JsonArray(kept);
                return;
            case "additionalProperties":
                if (existing is JsonValue e && e.GetValueKind() == JsonValueKind.False || value is JsonValue v && v.GetValueKind() == JsonValueKind.True)
                    return;
                if (value is JsonValue f && f.GetValueKind() == JsonValueKind.False || existing is JsonValue t && t.GetValueKind() == JsonValueKind.True)
                {
                    merged[key] = value?.DeepClone();
                    return;
                }
                merged[key] = new JsonObject { ["allOf"] = new JsonArray(existing?.DeepClone(), value?.DeepClone()) };
                return;
            default:
                if (!JsonNode.DeepEquals(existing, value))
                    throw new UnsupportedSchemaException(path, key, "allOf members set this keyword differently");
                return;
        }
    }

    /// <summary>A member's additionalProperties governs every merged property that member does not
    /// declare: false forbids it (unsupported), a schema further constrains it.</summary>
    private static void ApplyAdditionalProperties(List<(JsonObject Schema, string Path)> members, JsonObject merged)
    {
        if (merged["properties"] is not JsonObject all)
            return;
        foreach (var (member, memberPath) in members)
        {
            if (member["additionalProperties"] is not { } extra || extra.GetValueKind() == JsonValueKind.True)
                continue;
            var declared = member["properties"] as JsonObject;
            foreach (var name in all.Select(p => p.Key).ToList())
            {
                if (declared is not null && declared.ContainsKey(name))
                    continue;
                if (extra.GetValueKind() == JsonValueKind.False)
                    throw new UnsupportedSchemaException(memberPath, "additionalProperties",
                        $"forbids property '{name}' that another allOf member declares");
                all[name] = new JsonObject { ["allOf"] = new JsonArray(all[name]?.DeepClone(), extra.DeepClone()) };
            }
        }
    }

    private static decimal Number(JsonNode? node, string path, string key) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<decimal>(out var d) ? d
            : node is JsonValue e && e.GetValueKind() == JsonValueKind.Number && decimal.TryParse(e.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed
            : throw new UnsupportedSchemaException(path, key, "must be a number");

    private static IEnumerable<string> Strings(JsonNode? node, string path, string key) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        JsonArray a when a.All(x => x?.GetValueKind() == JsonValueKind.String) => a.Select(x => x!.GetValue<string>()),
        _ => throw new UnsupportedSchemaException(path, key, "must be a string or an array of strings"),
    };
}
