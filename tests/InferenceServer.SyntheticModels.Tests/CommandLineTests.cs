namespace InferenceServer.SyntheticModels.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public void Options_positionals_and_the_short_output_flag_are_parsed()
    {
        var line = new CommandLine(["file.gguf", "--rank", "8", "-o", "out.gguf", "--targets", "attn_q, attn_v", "--alpha", "16.5"]);

        Assert.Equal(8, line.Int("rank"));
        Assert.Equal("out.gguf", line.String("output"));
        Assert.Equal(["attn_q", "attn_v"], line.List("targets"));
        Assert.Equal(16.5f, line.Float("alpha"));
        Assert.Equal(["file.gguf"], line.Positional);
        line.RejectUnknown();
    }

    [Fact]
    public void A_misspelt_option_is_an_error_not_ignored()
    {
        var line = new CommandLine(["--rnak", "8"]);
        Assert.Null(line.Int("rank"));
        Assert.Throws<UsageException>(line.RejectUnknown);
    }

    [Fact]
    public void Malformed_and_missing_values_are_usage_errors()
    {
        Assert.Throws<UsageException>(() => new CommandLine(["--seed"]));
        Assert.Throws<UsageException>(() => new CommandLine(["--seed", "x"]).UInt64("seed"));
        Assert.Throws<UsageException>(() => new CommandLine(["--seed", "1", "--seed", "2"]));
    }
}
