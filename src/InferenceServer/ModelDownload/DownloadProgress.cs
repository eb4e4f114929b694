using System.Diagnostics;
using Spectre.Console;

namespace InferenceServer.ModelDownload;

/// <summary>Shows a download's progress; <c>report</c> takes the bytes held so far.</summary>
internal interface IDownloadProgress
{
    Task TrackAsync(string name, long? totalBytes, long startBytes, Func<Action<long>, Task> download);
}

/// <summary>A progress bar (bytes, rate, time left) on a terminal; a log line every few seconds anywhere else.</summary>
internal static class DownloadProgress
{
    public static IDownloadProgress For(ILogger logger) =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive ? new TerminalBar() : new LogLines(logger, TimeSpan.FromSeconds(5));

    private sealed class TerminalBar : IDownloadProgress
    {
        public Task TrackAsync(string name, long? totalBytes, long startBytes, Func<Action<long>, Task> download) =>
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(name, maxValue: totalBytes ?? 1);
                    task.IsIndeterminate = totalBytes is null;
                    task.Value = startBytes;
                    await download(bytes => task.Value = bytes);
                    task.Value = task.MaxValue;
                });
    }

    private sealed class LogLines(ILogger logger, TimeSpan interval) : IDownloadProgress
    {
        public async Task TrackAsync(string name, long? totalBytes, long startBytes, Func<Action<long>, Task> download)
        {
            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            long bytes = startBytes;
            logger.LogInformation("Downloading {File}: {Size}{Resumed}", name, totalBytes is { } total ? HubDownloader.FormatBytes(total) : "size unknown",
                startBytes > 0 ? $", resuming at {HubDownloader.FormatBytes(startBytes)}" : "");
            await download(now =>
            {
                bytes = now;
                if (clock.Elapsed - lastReport < interval) return;
                lastReport = clock.Elapsed;
                var rate = (bytes - startBytes) / clock.Elapsed.TotalSeconds;
                var left = totalBytes is { } size && rate > 0 ? $", {TimeSpan.FromSeconds(Math.Ceiling((size - bytes) / rate)):g} left" : "";
                logger.LogInformation("Downloading {File}: {Done}{OfTotal} at {Rate}/s{Left}", name, HubDownloader.FormatBytes(bytes),
                    totalBytes is { } all ? $" of {HubDownloader.FormatBytes(all)} ({100.0 * bytes / all:0}%)" : "", HubDownloader.FormatBytes(rate), left);
            });
            logger.LogInformation("Downloaded {File}: {Size} in {Seconds:0.0} s", name, HubDownloader.FormatBytes(bytes), clock.Elapsed.TotalSeconds);
        }
    }
}
