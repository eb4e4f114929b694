using System.Collections.Concurrent;
using System.Diagnostics;
using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Workloads;

namespace InferenceServer.LoadGen.Running;

/// <summary>The bounds of one level: it stops after <see cref="Requests"/> requests or <see cref="Duration"/>, whichever comes first.</summary>
internal sealed record LevelLimits(int Requests, TimeSpan Duration, double Burstiness, bool IgnoreEos, int Seed);

/// <summary>The records of one level and the wall time it took (first send to last answer or abort).</summary>
internal sealed record LevelRun(LoadLevel Level, IReadOnlyList<RequestRecord> Records, TimeSpan Duration);

/// <summary>
/// Drives one load level. Closed loop: N workers, each sending its next turn as soon as the previous answer ends.
/// Open loop: conversations start at gamma-spaced arrival times, optionally capped at a number in flight.
/// Invariants: at most <see cref="LevelLimits.Requests"/> requests are sent (a shared budget is drawn before each turn);
/// when the duration elapses, nothing new starts and requests in flight are cancelled and recorded as aborted.
/// </summary>
internal sealed class LoadRunner(StreamingClient client)
{
    /// <param name="onRequestDone">Called after every request (from any thread), for progress display.</param>
    public async Task<LevelRun> RunAsync(LoadLevel level, Workload workload, LevelLimits limits, Action<RequestRecord>? onRequestDone, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(limits.Duration);
        var records = new ConcurrentQueue<RequestRecord>();
        int budget = limits.Requests;
        int nextConversation = -1;
        long start = Stopwatch.GetTimestamp();

        bool TryTakeRequest() => Interlocked.Decrement(ref budget) >= 0;

        async Task DriveConversationAsync(int conversationId)
        {
            ConversationPlan plan = workload.Create(conversationId);
            var history = new List<ChatMessage>();
            for (int turn = 0; turn < plan.Turns.Count; turn++)
            {
                if (deadline.IsCancellationRequested || !TryTakeRequest())
                    return;
                TurnPlan t = plan.Turns[turn];
                history.Add(new ChatMessage("user", t.UserText));
                RequestRecord record = await client.SendAsync(
                    new StreamingRequest(history.ToList(), t.MaxTokens, limits.IgnoreEos), conversationId, turn,
                    Stopwatch.GetElapsedTime(start), deadline.Token);
                records.Enqueue(record);
                onRequestDone?.Invoke(record);
                if (!record.Succeeded)
                    return; // A conversation cannot go on without the answer it would resend.
                history.Add(new ChatMessage("assistant", record.GeneratedText));
            }
        }

        if (level.Concurrency is { } concurrency)
        {
            async Task WorkerAsync()
            {
                while (!deadline.IsCancellationRequested && Volatile.Read(ref budget) > 0)
                    await DriveConversationAsync(Interlocked.Increment(ref nextConversation));
            }
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
        }
        else
        {
            await RunOpenLoopAsync(level, workload, limits, DriveConversationAsync, deadline.Token);
        }

        TimeSpan duration = Stopwatch.GetElapsedTime(start);
        cancel.ThrowIfCancellationRequested();
        return new LevelRun(level, records.OrderBy(r => r.SentAt).ToList(), duration);
    }

    private static async Task RunOpenLoopAsync(LoadLevel level, Workload workload, LevelLimits limits, Func<int, Task> drive, CancellationToken deadline)
    {
        int conversations = (limits.Requests + workload.TurnsPerConversation - 1) / workload.TurnsPerConversation;
        IReadOnlyList<TimeSpan> offsets = ArrivalSchedule.Offsets(conversations, level.RequestRate!.Value, limits.Burstiness, new Random(limits.Seed));
        using var slots = level.MaxConcurrency is { } max ? new SemaphoreSlim(max, max) : null;
        var running = new List<Task>();
        long start = Stopwatch.GetTimestamp();
        try
        {
            for (int i = 0; i < conversations; i++)
            {
                TimeSpan wait = offsets[i] - Stopwatch.GetElapsedTime(start);
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, deadline);
                if (slots is not null)
                    await slots.WaitAsync(deadline);
                int id = i;
                running.Add(Task.Run(async () =>
                {
                    try { await drive(id); }
                    finally { slots?.Release(); }
                }));
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // Duration cap reached while waiting for the next arrival or a free slot: start nothing more.
        }
        await Task.WhenAll(running);
    }
}
