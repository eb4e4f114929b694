using Spectre.Console;

namespace InferenceServer.SyntheticModels.Terminal;

/// <summary>What long work reports: (done, total) of the measured part, and steps that cannot measure themselves.</summary>
internal sealed class ProgressSink(Action<long, long> report, Action<string, Action> runStep)
{
    public void Report(long done, long total) => report(done, total);

    /// <summary>Runs work that reports nothing (llama.cpp's quantiser), shown as a spinner or one line.</summary>
    public void RunStep(string description, Action work) => runStep(description, work);
}

/// <summary>
/// Shows progress of long work: Spectre.Console bars on an interactive terminal, otherwise one line
/// per tenth done (logs and pipes stay readable). Spectre allows one live display at a time, so every
/// step of the work shares the one progress display started here.
/// </summary>
internal static class ProgressDisplay
{
    private static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static T Run<T>(string description, Func<ProgressSink, T> work)
    {
        if (Interactive)
        {
            return AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(context =>
                {
                    var task = context.AddTask(description, maxValue: 1);
                    return work(new ProgressSink(
                        (done, total) =>
                        {
                            task.MaxValue = Math.Max(1, total);
                            task.Value = done;
                        },
                        (stepDescription, step) =>
                        {
                            var stepTask = context.AddTask(stepDescription, maxValue: 1).IsIndeterminate();
                            step();
                            stepTask.IsIndeterminate(false).Value = 1;
                        }));
                });
        }

        var lastTenth = -1L;
        return work(new ProgressSink(
            (done, total) =>
            {
                var tenth = total <= 0 ? 10 : done * 10 / total;
                if (tenth != lastTenth)
                {
                    lastTenth = tenth;
                    Console.WriteLine($"{description}: {tenth * 10}%");
                }
            },
            (stepDescription, step) =>
            {
                Console.WriteLine(stepDescription);
                step();
            }));
    }
}
