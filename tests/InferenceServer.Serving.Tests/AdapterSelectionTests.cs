using System.Text.Json.Nodes;
using InferenceServer.Api;
using InferenceServer.Contracts;
using InferenceServer.Engine;

namespace InferenceServer.Serving.Tests;

/// <summary>Which LoRA adapters a request decodes under: one named in <c>model</c> as BASE:ADAPTER, then the <c>adapters</c> list.</summary>
public sealed class AdapterSelectionTests
{
    private sealed class Adapter(string name, float defaultScale) : ILoadedAdapter
    {
        public string Name => name;
        public string LoadId => name + "#1";
        public float DefaultScale => defaultScale;
        public long CreatedUnixSeconds => 0;
        public bool TryAcquire() => true;
        public void Release() { }
    }

    private sealed class Catalog(params Adapter[] adapters) : IAdapterCatalog
    {
        public ILoadedAdapter? Find(string name) => adapters.FirstOrDefault(a => a.Name == name);
        public IReadOnlyList<ILoadedAdapter> All => adapters;
        public ILoadedAdapter Load(string name, string path, float defaultScale) => throw new NotSupportedException();
        public bool Remove(string name) => throw new NotSupportedException();
    }

    // Adapter selection reads only the model's id and its adapter catalogue.
    private static readonly ServedModel Model = new("base", 0, null!, null!, null!, null!, null!, new Catalog(new Adapter("sql", 0.5f), new Adapter("poet", 1f)));

    private static (ServedModel Model, AdapterSet Adapters) Select(string json, string requested = "base", string? adapterInModel = null) =>
        AdapterSelection.Select(Model, requested, adapterInModel, new RequestReader(JsonNode.Parse(json)!.AsObject()));

    private static IEnumerable<(string, float)> Stack(AdapterSet set) => set.Adapters.Select(a => (a.Adapter.Name, a.Scale));

    [Theory]
    [InlineData("base:sql", "base", "sql")]
    [InlineData("org:model:sql", "org:model", "sql")] // ids may hold ':'; the last one splits
    [InlineData("org:model", "org:model", null)]      // a configured id is never split
    [InlineData("other:sql", "other:sql", null)]      // no configured model before the colon: left for "model not found"
    [InlineData(":sql", ":sql", null)]
    public void A_model_name_splits_into_a_configured_model_and_an_adapter(string requested, string model, string? adapter)
    {
        var configured = new HashSet<string> { "base", "org:model" };
        Assert.Equal((model, adapter), AdapterSelection.SplitModelName(requested, configured.Contains));
    }

    [Fact]
    public void Without_adapters_the_request_decodes_under_the_base_model()
    {
        var (model, adapters) = Select("{}");
        Assert.True(adapters.IsBase);
        Assert.Equal("base", model.Id);
    }

    [Fact]
    public void An_adapter_named_in_model_joins_the_list_at_its_default_scale_and_the_model_keeps_the_name_asked_for()
    {
        var (model, adapters) = Select("""{"adapters": [{"name": "poet", "scale": 0.25}]}""", "base:sql", "sql");
        Assert.Equal([("poet", 0.25f), ("sql", 0.5f)], Stack(adapters)); // a set: in name order, whatever the request's
        Assert.Equal("base:sql", model.Id);
    }

    [Fact]
    public void An_adapter_at_scale_zero_changes_nothing_and_is_left_out() =>
        Assert.True(Select("""{"adapters": [{"name": "poet", "scale": 0}]}""").Adapters.IsBase);

    [Fact]
    public void An_entry_without_a_scale_takes_the_adapters_default() =>
        Assert.Equal([("sql", 0.5f)], Stack(Select("""{"adapters": [{"name": "sql"}]}""").Adapters));

    [Fact]
    public void An_unknown_adapter_is_404_adapter_not_found_naming_where_it_was_asked_for()
    {
        var inModel = Assert.Throws<ApiException>(() => Select("{}", "base:nope", "nope")).Error;
        Assert.Equal((404, "model", "adapter_not_found"), (inModel.Status, inModel.Param, inModel.Code));
        Assert.Contains("GET /v1/adapters", inModel.Message);

        var inList = Assert.Throws<ApiException>(() => Select("""{"adapters": [{"name": "sql"}, {"name": "nope"}]}""")).Error;
        Assert.Equal((404, "adapters[1].name"), (inList.Status, inList.Param));
    }

    [Theory]
    [InlineData("""{"adapters": {"name": "sql"}}""", "adapters", "invalid_type")]
    [InlineData("""{"adapters": ["sql"]}""", "adapters[0]", "invalid_type")]
    [InlineData("""{"adapters": [{"scale": 1}]}""", "adapters[0].name", "missing_required_parameter")]
    [InlineData("""{"adapters": [{"name": 3}]}""", "adapters[0].name", "invalid_type")]
    [InlineData("""{"adapters": [{"name": "sql", "scale": 4.5}]}""", "adapters[0].scale", "invalid_value")]
    [InlineData("""{"adapters": [{"name": "sql", "scale": "high"}]}""", "adapters[0].scale", "invalid_type")]
    [InlineData("""{"adapters": [{"name": "sql"}, {"name": "sql"}]}""", "adapters[1].name", "invalid_value")]
    public void A_bad_entry_is_a_400_naming_its_path(string json, string param, string code)
    {
        var error = RequestReaderTests.ErrorOf(() => Select(json));
        Assert.Equal((param, code), (error.Param, error.Code));
    }

    [Fact]
    public void An_adapter_named_in_model_and_again_in_the_list_is_chosen_twice()
    {
        var error = RequestReaderTests.ErrorOf(() => Select("""{"adapters": [{"name": "sql"}]}""", "base:sql", "sql"));
        Assert.Equal("adapters[0].name", error.Param);
        Assert.Contains("chosen twice", error.Message);
    }

    [Fact]
    public void At_most_eight_adapters_stack()
    {
        var nine = new JsonObject { ["adapters"] = new JsonArray(Enumerable.Range(0, 9).Select(_ => (JsonNode)new JsonObject { ["name"] = "sql" }).ToArray()) };
        var error = RequestReaderTests.ErrorOf(() => Select(nine.ToJsonString()));
        Assert.Equal("adapters", error.Param);
        Assert.Contains("at most 8", error.Message);
    }
}
