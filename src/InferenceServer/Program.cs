using InferenceServer;

if (args is ["--help-markdown"])
{
    Console.Write(CommandLine.Reference());
    return 0;
}

if (CommandLine.TryParse(args, out _, out var helpWanted) is null && helpWanted)
{
    Console.Write(CommandLine.Help());
    return 0;
}

WebApplication app;
try
{
    app = ServerApp.Build(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}

await app.RunAsync();
return Environment.ExitCode;
