using System.Diagnostics;

namespace InferenceServer.Tests;

/// <summary>Runs tests/js (the official openai npm package, `node --test`) against the tool server. .ci/run installs its packages with npm ci.</summary>
[Collection(ToolServerCollection.Name)]
public class JsSdkTests(ToolServerFixture server)
{
    [Fact]
    public async Task The_openai_npm_package_reads_tool_calls_whole_and_streamed()
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "js");
        Assert.True(Directory.Exists(Path.Combine(directory, "node_modules", "openai")), "tests/js/node_modules is missing: run `npm ci` in tests/js (bash .ci/run does).");
        var start = new ProcessStartInfo("node", ["--test", "--test-reporter=spec"])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["BASE_URL"] = new Uri(server.BaseUrl, "v1").ToString();
        start.Environment["MODEL_ID"] = ToolServerFixture.ModelId;
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, $"node --test failed ({node.ExitCode}):\n{await output}\n{await errors}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "InferenceServer.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("InferenceServer.sln not found above " + AppContext.BaseDirectory);
    }
}
