using InferenceServer.LoadGen.Cli;
using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Workloads;

namespace InferenceServer.LoadGen.Tests.Cli;

public sealed class CommandLineTests
{
    [Fact]
    public void Defaults_run_one_closed_loop_client_against_local_chat_completions()
    {
        LoadGenOptions o = CommandLine.Parse([]);
        Assert.Equal(new Uri("http://127.0.0.1:8080/v1/"), o.BaseUrl);
        Assert.Equal(EndpointKind.ChatCompletions, o.Endpoint);
        Assert.Equal([LoadLevel.Closed(1)], o.Levels());
        Assert.True(o.IgnoreEos);
        Assert.IsType<RandomWorkload>(o.CreateWorkload());
    }

    [Fact]
    public void Parses_a_full_sweep_command()
    {
        LoadGenOptions o = CommandLine.Parse(
        [
            "--base-url", "http://localhost:9000/v1", "--model=m", "--api-key", "k", "--endpoint", "completions",
            "--workload", "shared-prefix", "--prefix-len", "64", "--input-len", "8:16", "--output-len", "32",
            "--concurrency", "1,2, 4", "--requests", "10", "--warmup", "3", "--duration", "30s", "--timeout", "500ms", "--seed", "9",
            "--slo", "ttft:500ms", "--slo", "tpot:50ms", "--out", "r.json", "--markdown", "r.md", "--charts", "c", "--no-ignore-eos",
        ]);
        Assert.Equal(new Uri("http://localhost:9000/v1/"), o.BaseUrl);
        Assert.Equal(("m", "k"), (o.Model, o.ApiKey));
        Assert.Equal(EndpointKind.Completions, o.Endpoint);
        Assert.Equal(new LengthRange(8, 16), o.InputWords);
        Assert.Equal(LengthRange.Fixed(32), o.OutputTokens);
        Assert.Equal([LoadLevel.Closed(1), LoadLevel.Closed(2), LoadLevel.Closed(4)], o.Levels());
        Assert.Equal((10, 3, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500), 9), (o.Requests, o.WarmupRequests, o.Duration, o.RequestTimeout, o.Seed));
        Assert.Equal([new Slo(SloMetric.Ttft, TimeSpan.FromMilliseconds(500)), new Slo(SloMetric.Tpot, TimeSpan.FromMilliseconds(50))], o.Slos);
        Assert.Equal(("r.json", "r.md", "c"), (o.JsonPath, o.MarkdownPath, o.ChartsDirectory));
        Assert.False(o.IgnoreEos);
        Assert.IsType<SharedPrefixWorkload>(o.CreateWorkload());
    }

    [Fact]
    public void Parses_open_loop_rates_including_infinity()
    {
        LoadGenOptions o = CommandLine.Parse(["--request-rate", "2,inf", "--burstiness", "0.5", "--max-concurrency", "3"]);
        Assert.Equal([LoadLevel.Open(2, 3), LoadLevel.Open(double.PositiveInfinity, 3)], o.Levels());
        Assert.Equal(0.5, o.Burstiness);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--concurrency", "0")]
    [InlineData("--concurrency", "2", "--request-rate", "1")]
    [InlineData("--max-concurrency", "2")]
    [InlineData("--workload", "sharegpt")]
    [InlineData("--endpoint", "embeddings")]
    [InlineData("--slo", "ttft:5ms", "--slo", "ttft:6ms")]
    [InlineData("--slo", "bad")]
    [InlineData("--input-len", "9:3")]
    [InlineData("--output-len", "0")]
    [InlineData("--duration", "soon")]
    [InlineData("--base-url", "ftp://127.0.0.1/")]
    [InlineData("--requests")]
    [InlineData("--long-fraction", "1.5")]
    public void Rejects_bad_command_lines_with_a_usage_error(params string[] args) =>
        Assert.Throws<UsageException>(() => CommandLine.Parse(args));

    [Theory]
    [InlineData("http://127.0.0.1:8080/v1/", true)]
    [InlineData("http://127.9.9.9/v1/", true)]
    [InlineData("http://localhost:1/", true)]
    [InlineData("http://LOCALHOST:1/", true)]
    [InlineData("http://[::1]:8080/v1/", true)]
    [InlineData("http://10.0.0.1:8080/v1/", false)]
    [InlineData("http://192.168.1.1/", false)]
    [InlineData("https://api.openai.com/v1/", false)]
    [InlineData("http://localhost.example.com/", false)]
    [InlineData("http://[::ffff:8.8.8.8]/", false)]
    public void Only_loopback_targets_pass_without_allow_remote(string url, bool loopback)
    {
        Assert.Equal(loopback, TargetGuard.IsLoopback(new Uri(url)));
        if (loopback)
            TargetGuard.Check(new Uri(url), allowRemote: false);
        else
            Assert.Throws<UsageException>(() => TargetGuard.Check(new Uri(url), allowRemote: false));
        TargetGuard.Check(new Uri(url), allowRemote: true);
    }

    [Fact]
    public void Command_line_rendering_masks_the_api_key_and_quotes_spaces()
    {
        Assert.Equal("loadgen --api-key *** --model 'a b' --api-key=***",
            LoadGenApp.RenderCommandLine(["--api-key", "secret", "--model", "a b", "--api-key=secret2"]));
    }
}
