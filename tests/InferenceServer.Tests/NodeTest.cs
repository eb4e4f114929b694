using System.Diagnostics;

namespace InferenceServer.Tests;

/// <summary>Runs one JavaScript test file with `node --test` and fails with its output unless every test in it passes.</summary>
internal static class NodeTest
{
    public static async Task RunAsync(string directory, string file, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("node", ["--test", "--test-reporter=spec", file])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, $"node --test {file} failed ({node.ExitCode}):\n{await output}\n{await errors}");
    }
}
