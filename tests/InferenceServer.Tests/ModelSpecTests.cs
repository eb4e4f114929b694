using InferenceServer.ModelDownload;
using Microsoft.Extensions.Configuration;

namespace InferenceServer.Tests;

/// <summary>How -m flags and the "Models" settings become the served models.</summary>
public class ModelSpecTests
{
    private static IReadOnlyList<ModelSpec> Specs(params string[] args)
    {
        Assert.Null(CommandLine.TryParse(args, out var flags, out _));
        var options = new ConfigurationBuilder().AddInMemoryCollection(flags).Build().GetSection(ServerOptions.Section).Get<ServerOptions>()!;
        return ModelSpec.From(options);
    }

    [Fact]
    public void One_plain_model_flag_is_the_one_model_setting_as_before()
    {
        Assert.Null(CommandLine.TryParse(["-m", "/models/a.gguf", "--model-id", "x", "-np", "3"], out var flags, out _));
        Assert.Equal("/models/a.gguf", flags["Server:Model"]);
        var spec = Assert.Single(Specs("-m", "/models/a.gguf", "--model-id", "x", "-np", "3"));
        Assert.Equal(new ModelSpec("x", "/models/a.gguf", null, 0, 3, null, false, null), spec);
    }

    [Fact]
    public void Repeated_model_flags_give_each_model_its_id_and_settings_with_the_server_wide_ones_as_defaults()
    {
        var specs = Specs("-m", "a=/models/a.gguf,ctx=2048,parallel=2", "-m", "/models/b-Q8_0.gguf",
            "-m", "c=hf://owner/repo/c.gguf,on_demand,chat_template=chatml", "-m", "d=/d.gguf,keep_alive=1h30m", "-c", "4096", "-np", "6");

        Assert.Equal(new ModelSpec("a", "/models/a.gguf", null, 2048, 2, null, false, null), specs[0]);
        Assert.Equal(new ModelSpec("b-Q8_0", "/models/b-Q8_0.gguf", null, 4096, 6, null, false, null), specs[1]);
        Assert.Equal(new ModelSpec("c", null, new HubFile("owner", "repo", "c.gguf"), 4096, 6, ModelSpec.DefaultOnDemandKeepAlive, true, "chatml"), specs[2]);
        Assert.Equal(TimeSpan.FromMinutes(90), specs[3].KeepAlive);
    }

    [Theory]
    [InlineData("a=/a.gguf,gpu=1", "Unknown setting 'gpu'")]
    public void An_unknown_model_setting_is_refused(string model, string message) =>
        Assert.Contains(message, CommandLine.TryParse(["-m", model], out _, out _));

    [Theory]
    [InlineData(new[] { "-m", "a=/a.gguf", "-m", "a=/b.gguf" }, "Two models have the id 'a'")]
    [InlineData(new[] { "-m", "a=/a.gguf", "--model-id", "x" }, "--model-id names the one model")]
    [InlineData(new[] { "-m", "a=/a.gguf", "--hf-repo", "o/r", "--hf-file", "f.gguf" }, "not with --hf-repo")]
    [InlineData(new[] { "-m", "a=/a.gguf,keep_alive=soon" }, "keep_alive 'soon' is not a duration")]
    public void Contradicting_model_settings_are_refused(string[] args, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => Specs(args)).Message);

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("300", 300)]
    [InlineData("0", 0)]
    [InlineData("-1", -1)]
    public void Keep_alive_takes_ollamas_forms(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), ModelSpec.ParseKeepAlive(text));

    [Fact]
    public void A_negative_keep_alive_keeps_the_model_forever() => Assert.Null(Specs("-m", "a=/a.gguf,on_demand,keep_alive=-1")[0].KeepAlive);

    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("8G", 8L << 30)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("2.5M", 2621440L)]
    [InlineData("lots", null)]
    public void Memory_budgets_take_binary_suffixes(string text, long? bytes) => Assert.Equal(bytes, ModelSpec.ParseBytes(text));
}
