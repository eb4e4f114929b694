using Spectre.Console;

namespace InferenceServer.SyntheticModels.Terminal;

/// <summary>
/// Shows progress of long work: a Spectre.Console bar on an interactive terminal, otherwise one line
/// per tenth done (logs and pipes stay readable).
/// </summary>
internal static class ProgressDisplay
{
    private static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <param name="work">Does the work, reporting (done, total) in any unit.</param>
    public static T Run<T>(string description, Func<Action<long, long>, T> work)
    {
        if (Interactive)
        {
            return AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask(description, maxValue: 1);
                    var result = work((done, total) =>
                    {
                        task.MaxValue = Math.Max(1, total);
                        task.Value = done;
                    });
                    task.Value = task.MaxValue;
                    return result;
                });
        }

        var lastTenth = -1L;
        return work((done, total) =>
        {
            var tenth = total <= 0 ? 10 : done * 10 / total;
            if (tenth != lastTenth)
            {
                lastTenth = tenth;
                Console.WriteLine($"{description}: {tenth * 10}%");
            }
        });
    }

    /// <summary>Work without a measure of progress (llama.cpp's quantiser): a spinner, or one line.</summary>
    public static void RunIndeterminate(string description, Action work)
    {
        if (Interactive)
        {
            AnsiConsole.Status().Start(description, _ => work());
            return;
        }

        Console.WriteLine(description);
        work();
    }
}
