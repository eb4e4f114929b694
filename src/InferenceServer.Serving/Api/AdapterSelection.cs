using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>
/// The LoRA adapters a completion request adds with the extension field
/// <c>"adapters": [{"name": "sql", "scale": 1.0}, …]</c> (scale defaults to the adapter's own), on top of one
/// named in <c>model</c> as <c>BASE:ADAPTER</c>.
/// </summary>
internal static class AdapterSelection
{
    /// <summary>Most adapters stacked on one request.</summary>
    public const int MaxStacked = 8;

    public static ApiError NotFound(string modelId, string adapter, string param) =>
        new(StatusCodes.Status404NotFound, $"The model '{modelId}' has no LoRA adapter '{adapter}'. GET /v1/adapters lists them.",
            "invalid_request_error", param, "adapter_not_found");

    /// <summary>
    /// A request's <c>model</c> split into the model's id and the adapter it names as <c>BASE:ADAPTER</c> (a name that is
    /// no configured model but is one followed by <c>:ADAPTER</c>; ids may hold ':' themselves, the last one splits).
    /// </summary>
    public static (string ModelId, string? Adapter) SplitModelName(string requested, Func<string, bool> isConfigured)
    {
        var colon = requested.LastIndexOf(':');
        return !isConfigured(requested) && colon > 0 && isConfigured(requested[..colon]) ? (requested[..colon], requested[(colon + 1)..]) : (requested, null);
    }

    /// <summary>
    /// The model as the request named it (its id is <paramref name="requested"/>, <c>BASE:ADAPTER</c> included) and the
    /// adapters it decodes under: the one named in <c>model</c>, then those of <c>adapters</c>.
    /// </summary>
    public static (ServedModel Model, AdapterSet Adapters) Select(ServedModel model, string requested, string? adapterName, RequestReader reader)
    {
        var stack = new List<ScaledAdapter>();
        if (adapterName is not null)
        {
            var adapter = model.Adapters.Find(adapterName) ?? throw new ApiException(NotFound(model.Id, adapterName, "model"));
            stack.Add(new ScaledAdapter(adapter, adapter.DefaultScale));
            model = model with { Id = requested };
        }
        ReadStack(reader, model, stack);
        return (model, AdapterSet.Of(stack));
    }

    public static void ReadStack(RequestReader reader, ServedModel model, List<ScaledAdapter> stack)
    {
        switch (reader.Get("adapters"))
        {
            case null:
                return;
            case JsonArray { Count: > MaxStacked }:
                throw RequestReader.Invalid("adapters", $"'adapters' holds at most {MaxStacked} adapters.");
            case JsonArray items:
                for (var i = 0; i < items.Count; i++) stack.Add(ReadOne(items[i], $"adapters[{i}]", model, stack));
                return;
            case var other:
                throw RequestReader.WrongType("adapters", "an array of {\"name\", \"scale\"} objects", other);
        }
    }

    private static ScaledAdapter ReadOne(JsonNode? item, string param, ServedModel model, List<ScaledAdapter> stack)
    {
        if (item is not JsonObject fields) throw RequestReader.WrongType(param, "an object with 'name' and 'scale'", item);
        var entry = new RequestReader(fields);
        var name = Scoped(param, "name", () => entry.RequiredString("name"));
        var adapter = model.Adapters.Find(name) ?? throw new ApiException(NotFound(model.Id, name, $"{param}.name"));
        if (stack.Any(s => s.Adapter.Name == name))
            throw RequestReader.Invalid($"{param}.name", $"The adapter '{name}' is chosen twice (in 'model' or 'adapters').");
        var scale = (float)Scoped(param, "scale", () => entry.OptionalNumber("scale", -AdapterRules.MaxScale, AdapterRules.MaxScale) ?? adapter.DefaultScale);
        return new ScaledAdapter(adapter, scale);
    }

    /// <summary>Reads a field of one entry, naming it by its path in the request (adapters[1].scale) in any error.</summary>
    private static T Scoped<T>(string param, string field, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ApiException ex)
        {
            throw new ApiException(ex.Error with { Param = $"{param}.{field}", Message = ex.Error.Message.Replace($"'{field}'", $"'{param}.{field}'") });
        }
    }
}
