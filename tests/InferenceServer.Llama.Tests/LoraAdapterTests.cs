using InferenceServer.Contracts;
using InferenceServer.SyntheticModels.Benchmark;
using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.Llama.Tests;

/// <summary>LoRA adapters on the synthetic model: the loader refuses what would crash llama.cpp, and the catalogue hands adapters out by name.</summary>
[Collection(SyntheticModelCollection.Name)]
public sealed class LoraAdapterTests(SyntheticModelFixture fixture)
{
    private const string Prompt = "The quick brown fox";

    private static readonly LoraAdapterOptions Options = new(Rank: 8, Alpha: 16, ["attn_q", "attn_v", "ffn_up"], Seed: 1);

    private string WriteAdapter(string name)
    {
        var path = Path.Combine(fixture.Directory, name + ".gguf");
        if (!File.Exists(path)) LoraAdapterWriter.Write(path, fixture.PathOf(WeightFormat.Q8_0), Options);
        return path;
    }

    [Fact]
    public void LLamaSharp_loads_the_adapter_which_changes_greedy_output_and_does_nothing_at_scale_zero()
    {
        var adapterPath = Path.Combine(fixture.Directory, "lora.gguf");
        LoraAdapterWriter.Write(adapterPath, fixture.PathOf(WeightFormat.F32), Options);
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.F32));
        var adapter = LoraAdapterLoader.Load(session.Weights, adapterPath);

        var baseline = GreedyDecoder.Generate(session.Weights, session.Context, Prompt, 16);
        session.Context.NativeHandle.SetLoraAdapters([(adapter, 1f)]);
        var adapted = GreedyDecoder.Generate(session.Weights, session.Context, Prompt, 16);
        session.Context.NativeHandle.SetLoraAdapters([(adapter, 0f)]);
        var scaledToZero = GreedyDecoder.Generate(session.Weights, session.Context, Prompt, 16);

        Assert.NotEqual(baseline, adapted);
        Assert.Equal(baseline, scaledToZero);
    }

    [Fact]
    public void A_file_that_is_not_an_adapter_is_refused_instead_of_crashing()
    {
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.Q8_0));
        Assert.Throws<InvalidDataException>(() => LoraAdapterLoader.Load(session.Weights, fixture.PathOf(WeightFormat.Q4_0)));
    }

    [Fact]
    public void The_catalogue_refuses_bad_names_scales_taken_names_and_files_that_are_not_adapters()
    {
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.Q8_0));
        var catalogue = new LoraAdapters(session.Weights);
        var path = WriteAdapter("catalogue");

        Assert.Throws<ArgumentException>(() => catalogue.Load("no:colons", path, 1f));
        Assert.Throws<ArgumentException>(() => catalogue.Load("too-strong", path, AdapterRules.MaxScale + 1));
        catalogue.Load("story", path, 0.5f);
        Assert.Throws<ArgumentException>(() => catalogue.Load("story", path, 1f));

        // Another model's weights: a GGUF file, but no adapter of this model.
        Assert.Throws<ModelLoadException>(() => catalogue.Load("weights", fixture.PathOf(WeightFormat.Q4_0), 1f));
        var viaInterface = Assert.Throws<AdapterFileException>(() => ((IAdapterCatalog)catalogue).Load("weights", fixture.PathOf(WeightFormat.Q4_0), 1f));
        Assert.Contains("cannot be used with this model", viaInterface.Message);
        Assert.Throws<ModelLoadException>(() => catalogue.Load("missing", Path.Combine(fixture.Directory, "no-such.gguf"), 1f));

        Assert.Equal(["story"], catalogue.All.Select(a => a.Name));
        Assert.Equal(0.5f, catalogue.Find("story")!.DefaultScale);
        catalogue.Remove("story");
    }

    [Fact]
    public void A_removed_adapter_is_refused_to_new_requests_while_a_running_one_keeps_it_and_its_name_can_be_loaded_again()
    {
        using var session = new LlamaTestSession(fixture.PathOf(WeightFormat.Q8_0));
        var catalogue = new LoraAdapters(session.Weights);
        var path = WriteAdapter("removal");
        var first = catalogue.Load("story", path, 1f);
        Assert.True(first.TryAcquire()); // a running request's reference

        Assert.True(catalogue.Remove("story"));
        Assert.False(catalogue.Remove("story"));
        Assert.Null(catalogue.Find("story"));
        Assert.Empty(catalogue.All);
        Assert.False(first.TryAcquire());
        first.Release(); // the running request ends: the adapter's memory goes now

        var second = catalogue.Load("story", path, 1f);
        Assert.NotEqual(first.LoadId, second.LoadId);
        Assert.Same(second, catalogue.Find("story"));
        catalogue.Remove("story");
    }
}
