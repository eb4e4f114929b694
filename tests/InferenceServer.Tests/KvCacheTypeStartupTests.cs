using System.Diagnostics;

namespace InferenceServer.Tests;

/// <summary>--cache-type-k/-v values the model cannot take stop the server before llama.cpp sees them, with one line saying why.</summary>
public class KvCacheTypeStartupTests
{
    private static async Task<(int ExitCode, string Output)> StartAsync(params string[] flags)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile), "--port", "0", "-t", "1", .. flags])
            start.ArgumentList.Add(arg);
        using var server = Process.Start(start)!;
        var output = server.StandardOutput.ReadToEndAsync();
        var errors = server.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await server.WaitForExitAsync(timeout.Token);
        return (server.ExitCode, await output + await errors);
    }

    [Fact]
    public async Task A_quantised_cache_for_heads_shorter_than_its_block_is_refused()
    {
        // TinyStories-656K's heads hold 16 values; a q8_0 block holds 32.
        var (exitCode, output) = await StartAsync("--cache-type-k", "q8_0");

        Assert.Equal(2, exitCode);
        Assert.Contains("--cache-type-k q8_0 needs a key head length that is a multiple of 32; this model's is 16", output);
    }

    [Theory]
    [InlineData("--cache-type-v", "use one of f32, f16, bf16, q8_0, q4_0")]
    [InlineData("--cache-type-k", "use auto or one of f32, f16, bf16, q8_0, q4_0")]
    public async Task An_unknown_cache_type_is_refused_with_the_known_ones(string flag, string known)
    {
        var (exitCode, output) = await StartAsync(flag, "q3_k");

        Assert.Equal(2, exitCode);
        Assert.Contains($"{flag} q3_k is not a KV cache type: {known}", output);
    }
}
