using System.Text.Json;
using Spectre.Console;

namespace InferenceServer.LoadGen.Tests.EndToEnd;

/// <summary>Runs the whole tool in-process, as <c>Main</c> would, and returns its exit code, console text and JSON report.</summary>
internal sealed class LoadGenHarness : IDisposable
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "loadgen-tests-" + Guid.NewGuid().ToString("N"));

    public LoadGenHarness() => System.IO.Directory.CreateDirectory(Directory);

    public string PathOf(string name) => Path.Combine(Directory, name);

    public async Task<(int ExitCode, string Console, JsonElement Report)> RunAsync(params string[] args)
    {
        var text = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = 240;
        string json = PathOf("results.json");
        File.Delete(json);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // A hung run fails the test instead of the suite.
        int exit = await LoadGenApp.RunAsync([.. args, "--out", json], console, isTerminal: false, cancel.Token);
        JsonElement report = File.Exists(json) ? JsonDocument.Parse(File.ReadAllText(json)).RootElement : default;
        return (exit, text.ToString(), report);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}

internal static class ReportJson
{
    public static JsonElement Level(this JsonElement report, int index) => report.GetProperty("levels")[index];

    public static double Ms(this JsonElement level, string metric, string stat) => level.GetProperty(metric).GetProperty(stat).GetDouble();

    public static int Int(this JsonElement e, string name) => e.GetProperty(name).GetInt32();

    public static Dictionary<string, int> Errors(this JsonElement level) =>
        level.GetProperty("errors_by_kind").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
}
