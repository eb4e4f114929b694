using InferenceServer.LoadGen;
using Spectre.Console;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // Let the run unwind and dispose its connections.
    cancel.Cancel();
};
try
{
    return await LoadGenApp.RunAsync(args, AnsiConsole.Console, isTerminal: !Console.IsOutputRedirected, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    AnsiConsole.MarkupLine("[yellow]cancelled[/]");
    return 130;
}
