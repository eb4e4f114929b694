using InferenceServer.LoadGen;
using Spectre.Console;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // Let the run unwind and dispose its connections.
    cancel.Cancel();
};
if (Console.IsOutputRedirected)
    AnsiConsole.Console.Profile.Width = 200; // Logs and pipes: keep table rows on one line instead of 80 columns.
try
{
    return await LoadGenApp.RunAsync(args, AnsiConsole.Console, isTerminal: !Console.IsOutputRedirected, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    AnsiConsole.MarkupLine("[yellow]cancelled[/]");
    return 130;
}
