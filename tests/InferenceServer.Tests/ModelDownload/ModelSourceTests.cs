using InferenceServer.ModelDownload;

namespace InferenceServer.Tests.ModelDownload;

public sealed class ModelSourceTests
{
    [Fact]
    public void No_model_means_the_documented_default_model()
    {
        var options = new ServerOptions();

        Assert.Equal(HubFile.Default, ModelSource.HubFileOf(options));
        Assert.Equal("hf://HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf", HubFile.Default.ToString());
        Assert.Equal("smollm2-360m-instruct-q8_0", options.ResolvedModelId);
    }

    [Fact]
    public void Hub_references_and_repo_file_pairs_name_the_same_file_and_model_id()
    {
        var fromUri = new ServerOptions { Model = "hf://owner/repo/sub/model-Q8_0.gguf" };
        var fromPair = new ServerOptions { HfRepo = "owner/repo", HfFile = "sub/model-Q8_0.gguf" };

        Assert.Equal(new HubFile("owner", "repo", "sub/model-Q8_0.gguf"), ModelSource.HubFileOf(fromUri));
        Assert.Equal(ModelSource.HubFileOf(fromUri), ModelSource.HubFileOf(fromPair));
        Assert.Equal("model-Q8_0", fromUri.ResolvedModelId);
        Assert.Equal("model-Q8_0", fromPair.ResolvedModelId);
        Assert.Null(ModelSource.HubFileOf(new ServerOptions { Model = "/models/local.gguf" }));
    }

    [Theory]
    [InlineData("hf://owner/repo")]
    [InlineData("hf://owner/repo/model.bin")]
    [InlineData("hf://owner/repo/../../../etc/model.gguf")]
    [InlineData("hf://owner//model.gguf")]
    public void Malformed_or_escaping_hub_references_are_refused(string model) =>
        Assert.Throws<ArgumentException>(() => ModelSource.HubFileOf(new ServerOptions { Model = model }));

    [Fact]
    public void A_repo_without_a_file_or_both_ways_at_once_are_refused()
    {
        Assert.Contains("go together", Assert.Throws<ArgumentException>(() => ModelSource.HubFileOf(new ServerOptions { HfRepo = "owner/repo" })).Message);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() =>
            ModelSource.HubFileOf(new ServerOptions { Model = "x.gguf", HfRepo = "owner/repo", HfFile = "m.gguf" })).Message);
    }
}
