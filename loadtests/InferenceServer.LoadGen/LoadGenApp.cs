using System.Net.Http.Json;
using System.Text.Json;
using InferenceServer.LoadGen.Cli;
using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Reports;
using InferenceServer.LoadGen.Running;
using InferenceServer.LoadGen.Workloads;
using Spectre.Console;

namespace InferenceServer.LoadGen;

/// <summary>The whole tool behind <c>Main</c>: parse, check the target, run each level, report.</summary>
internal static class LoadGenApp
{
    public const int ExitOk = 0, ExitAllFailed = 1, ExitUsage = 2;

    /// <param name="isTerminal">Whether output goes to an interactive terminal (the progress bar is shown only then).</param>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole console, bool isTerminal, CancellationToken cancel)
    {
        LoadGenOptions options;
        try
        {
            options = CommandLine.Parse(args);
            if (options.ShowHelp)
            {
                console.WriteLine(CommandLine.Usage);
                return ExitOk;
            }
            TargetGuard.Check(options.BaseUrl, options.AllowRemote);
        }
        catch (UsageException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return ExitUsage;
        }

        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false, // Loopback targets: an environment proxy would only get in the way.
            MaxConnectionsPerServer = int.MaxValue,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        })
        { Timeout = Timeout.InfiniteTimeSpan }; // Each request carries its own timeout.

        string? model = options.Model ?? await FirstModelAsync(http, options, console, cancel);
        if (model is null)
            return ExitAllFailed;

        var client = new StreamingClient(http, options.BaseUrl, model.Split(','), options.Endpoint, options.ApiKey, options.RequestTimeout);
        var runner = new LoadRunner(client);
        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        var runs = new List<LevelRun>();
        IReadOnlyList<LoadLevel> levels = options.Levels();

        console.MarkupLine($"loadgen: {Markup.Escape(options.Workload)} workload, {levels.Count} level(s), up to {options.Requests} request(s) " +
                           $"or {options.Duration.TotalSeconds:0.#} s per level, model [bold]{Markup.Escape(model)}[/] at {Markup.Escape(options.BaseUrl.ToString())}");
        if (options.WarmupRequests > 0)
        {
            var warmupLimits = new LevelLimits(options.WarmupRequests, options.Duration, options.Burstiness, options.IgnoreEos, options.Seed);
            LevelRun warmup = await runner.RunAsync(LoadLevel.Closed(1), options.CreateWorkload(warmup: true), warmupLimits, null, cancel);
            int ok = warmup.Records.Count(r => r.Succeeded);
            console.WriteLine($"warm-up: {ok}/{warmup.Records.Count} ok (not measured)");
            if (ok == 0)
                console.MarkupLine($"[yellow]warning:[/] every warm-up request failed ({Markup.Escape(warmup.Records.FirstOrDefault()?.Failure?.Key ?? "none sent")}); measuring anyway.");
        }

        if (isTerminal && !options.NoProgress)
        {
            await console.Progress().AutoClear(false).StartAsync(async context =>
            {
                foreach (LoadLevel level in levels)
                {
                    ProgressTask task = context.AddTask(level.Label, maxValue: options.Requests);
                    runs.Add(await RunLevelAsync(runner, level, options, _ => task.Increment(1), cancel));
                    task.Value = task.MaxValue;
                }
            });
        }
        else
        {
            foreach (LoadLevel level in levels)
            {
                LevelRun run = await RunLevelAsync(runner, level, options, null, cancel);
                runs.Add(run);
                console.WriteLine($"{level.Label}: {run.Records.Count(r => r.Succeeded)}/{run.Records.Count} ok in {run.Duration.TotalSeconds:0.00} s");
            }
        }

        var report = new RunReport
        {
            CommandLine = RenderCommandLine(args),
            StartedAt = startedAt,
            Machine = MachineInfo.Current(),
            BaseUrl = options.BaseUrl.ToString(),
            Model = model,
            Endpoint = options.Endpoint == EndpointKind.ChatCompletions ? "chat/completions" : "completions",
            Workload = options.Workload,
            Levels = runs.Select(r => LevelSummaryCalculator.Summarize(r.Level, r.Records, r.Duration, options.Slos)).ToList(),
            Requests = runs.Select(r => (IReadOnlyList<RequestRow>)r.Records.Select(RequestRow.From).ToList()).ToList(),
        };
        ConsoleReport.Render(console, report);
        WriteFiles(options, report, console);
        return report.Levels.Any(l => l.Completed > 0) ? ExitOk : ExitAllFailed;
    }

    private static Task<LevelRun> RunLevelAsync(LoadRunner runner, LoadLevel level, LoadGenOptions options, Action<RequestRecord>? onDone, CancellationToken cancel)
    {
        // Same seed for every level: each level sends the same prompts, so levels differ only in load.
        Workload workload = options.CreateWorkload();
        var limits = new LevelLimits(options.Requests, options.Duration, options.Burstiness, options.IgnoreEos, options.Seed);
        return runner.RunAsync(level, workload, limits, onDone, cancel);
    }

    private static void WriteFiles(LoadGenOptions options, RunReport report, IAnsiConsole console)
    {
        if (options.JsonPath is { } json)
        {
            JsonReportWriter.Write(json, report);
            console.WriteLine($"JSON written to {json}");
        }
        if (options.MarkdownPath is { } markdown)
        {
            MarkdownReportWriter.Append(markdown, report);
            console.WriteLine($"Markdown appended to {markdown}");
        }
        if (options.ChartsDirectory is { } charts)
        {
            IReadOnlyList<string> files = ChartWriter.Write(charts, report);
            console.WriteLine($"{files.Count} charts written to {charts}");
        }
    }

    private static async Task<string?> FirstModelAsync(HttpClient http, LoadGenOptions options, IAnsiConsole console, CancellationToken cancel)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.BaseUrl, "models"));
            if (options.ApiKey is not null)
                request.Headers.Authorization = new("Bearer", options.ApiKey);
            using HttpResponseMessage response = await http.SendAsync(request, timeout.Token);
            response.EnsureSuccessStatusCode();
            JsonElement body = await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
            if (body.TryGetProperty("data", out JsonElement data) && data.ValueKind == JsonValueKind.Array && data.GetArrayLength() > 0
                && data[0].TryGetProperty("id", out JsonElement id) && id.GetString() is { Length: > 0 } name)
                return name;
            console.MarkupLine("[red]error:[/] the server listed no models; pass --model.");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !cancel.IsCancellationRequested)
        {
            console.MarkupLine($"[red]error:[/] could not list models at {Markup.Escape(options.BaseUrl.ToString())}models ({Markup.Escape(e.Message)}); pass --model.");
        }
        return null;
    }

    /// <summary>The invocation as a shell line, with the API key masked.</summary>
    internal static string RenderCommandLine(IReadOnlyList<string> args)
    {
        var parts = new List<string> { "loadgen" };
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg.StartsWith("--api-key=", StringComparison.Ordinal))
                arg = "--api-key=***";
            else if (i > 0 && args[i - 1] == "--api-key")
                arg = "***";
            parts.Add(arg.Length == 0 || arg.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '&' or '|' or ';') ? $"'{arg.Replace("'", "'\\''")}'" : arg);
        }
        return string.Join(' ', parts);
    }
}
