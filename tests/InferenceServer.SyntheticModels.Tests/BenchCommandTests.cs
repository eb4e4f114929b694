using System.Globalization;
using System.Text.RegularExpressions;
using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.SyntheticModels.Tests;

[Collection(SyntheticModelCollection.Name)]
public sealed class BenchCommandTests(SyntheticModelFixture fixture)
{
    [Fact]
    public void With_repeat_bench_reports_the_median_run_and_the_range_of_all()
    {
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            var exit = Commands.Bench(new CommandLine(["--model", fixture.PathOf(WeightFormat.F32), "--streams", "2", "--tokens", "4", "--threads", "1", "--repeat", "3"]));
            Assert.Equal(0, exit);
        }
        finally
        {
            Console.SetOut(console);
        }
        var text = output.ToString();

        var reported = Regex.Match(text, @"2 stream\(s\) x 4 tokens, 1 threads: ([\d.]+) tokens/s");
        var range = Regex.Match(text, @"the median of 3 runs; they ranged from ([\d.]+) to ([\d.]+) tokens/s");
        Assert.True(reported.Success && range.Success, text);
        Assert.InRange(Number(reported), Number(range), Number(range, 2));
    }

    [Fact]
    public void A_repeat_below_one_is_refused_before_anything_loads()
    {
        var error = Assert.Throws<ArgumentException>(() => Commands.Bench(new CommandLine(["--model", "missing.gguf", "--repeat", "0"])));
        Assert.Contains("--repeat 0", error.Message);
    }

    private static double Number(Match match, int group = 1) => double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
}
