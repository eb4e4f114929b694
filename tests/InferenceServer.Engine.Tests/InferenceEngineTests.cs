using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

public class InferenceEngineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static InferenceEngine NewEngine(FakeExecutor executor, int maxQueue = 16) =>
        new(executor, new FakeTokenizer(), new EngineOptions { MaxQueuedRequests = maxQueue }, NullLogger<InferenceEngine>.Instance);

    private static GenerationRequest Request(string prompt, int maxNew, params string[] stops) =>
        new(prompt, prompt.Select(c => (int)c).ToArray(), maxNew, new SamplingParameters(0), stops);

    [Fact]
    public async Task Generates_until_max_tokens_and_reports_length_with_exact_usage()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 32)));
        var (text, finished) = await EngineOutput.ReadAll(engine.Submit(Request("abc", 5), CancellationToken.None));

        Assert.Equal("defgh", text);
        Assert.Equal((FinishReason.Length, 3, 5), (finished.Reason, finished.PromptTokens, finished.CompletionTokens));
        Assert.True(finished.Timings.TimeToFirstToken <= finished.Timings.Total);
    }

    [Fact]
    public async Task The_observer_hears_admission_every_token_and_the_finish()
    {
        var observer = new RecordingObserver();
        using var engine = new InferenceEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 32)), new FakeTokenizer(),
            new EngineOptions(), NullLogger<InferenceEngine>.Instance, observer);
        await EngineOutput.ReadAll(engine.Submit(Request("abc", 4), CancellationToken.None));

        Assert.Equal(["admitted abc", "token abc first", "token abc", "token abc", "token abc", "finished abc Length"], observer.Events);
        Assert.Equal(3, observer.PromptTokensDecoded);
        Assert.Equal(3, observer.GeneratedTokensDecoded); // the 4th token is sampled but never fed back
    }

    private sealed class RecordingObserver : IEngineObserver
    {
        public List<string> Events { get; } = [];
        public int PromptTokensDecoded { get; private set; }
        public int GeneratedTokensDecoded { get; private set; }

        public void StepDecoded(in StepTimings step)
        {
            PromptTokensDecoded += step.PromptTokens;
            GeneratedTokensDecoded += step.GeneratedTokens;
        }

        public void RequestAdmitted(string requestId, TimeSpan queueWait) => Events.Add($"admitted {requestId}");
        public void TokenGenerated(string requestId, TimeSpan? sinceLastToken) => Events.Add($"token {requestId}{(sinceLastToken is null ? " first" : "")}");
        public void RequestFinished(string requestId, GenerationFinished finished) => Events.Add($"finished {requestId} {finished.Reason}");
    }

    [Fact]
    public async Task End_of_generation_token_stops_without_emitting_text()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 32), (_, position) => position >= 4 ? 0 : 'x'));
        var (text, finished) = await EngineOutput.ReadAll(engine.Submit(Request("ab", 50), CancellationToken.None));

        Assert.Equal("xxx", text);
        Assert.Equal(FinishReason.Stop, finished.Reason);
        Assert.Equal(4, finished.CompletionTokens);
    }

    [Fact]
    public async Task Ignoring_end_of_generation_runs_to_max_tokens()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 32), (_, position) => position >= 4 ? 0 : 'x'));
        var request = Request("ab", 10) with { IgnoreEndOfGeneration = true };
        var (_, finished) = await EngineOutput.ReadAll(engine.Submit(request, CancellationToken.None));

        Assert.Equal(FinishReason.Length, finished.Reason);
        Assert.Equal(10, finished.CompletionTokens);
    }

    [Fact]
    public async Task A_failing_sampler_ends_only_its_own_request()
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 4, 32),
            (token, position) => token == 'z' ? throw new InvalidOperationException("dead end") : 'a' + (position + 1) % 26);
        using var engine = NewEngine(executor);
        var failing = engine.Submit(Request("zz", 5), CancellationToken.None);
        var healthy = engine.Submit(Request("ab", 5), CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => EngineOutput.ReadAll(failing));
        Assert.Equal("dead end", error.Message);
        var (text, finished) = await EngineOutput.ReadAll(healthy);
        Assert.Equal("cdefg", text);
        Assert.Equal(FinishReason.Length, finished.Reason);
    }

    [Fact]
    public async Task A_stop_sequence_ends_generation_and_is_not_emitted()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 32)));
        var (text, finished) = await EngineOutput.ReadAll(engine.Submit(Request("a", 50, "fg"), CancellationToken.None));

        Assert.Equal("bcde", text);
        Assert.Equal(FinishReason.Stop, finished.Reason);
    }

    [Fact]
    public async Task Concurrent_requests_all_finish_and_every_sequence_is_freed()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 256, 4, 64));
        using var engine = NewEngine(executor);
        var streams = Enumerable.Range(0, 12).Select(i => engine.Submit(Request(new string('a', 3 + i), 10), CancellationToken.None)).ToList();
        var results = await Task.WhenAll(streams.Select(EngineOutput.ReadAll));

        Assert.All(results, r => Assert.Equal(10, r.Finished.CompletionTokens));
        Assert.Equal(12, executor.Kv.Removals.Count(r => r.Slot.Value < 4 && r.From == 0 && r.To == int.MaxValue));
        Assert.True(executor.Batches.Max(b => b.Select(t => t.Slot).Distinct().Count()) > 1, "requests never shared a decode");
        await WaitUntil(() => engine.Snapshot is { Running: 0, Waiting: 0, ReservedCells: 0 });
    }

    [Fact]
    public async Task Cancelling_a_running_request_frees_its_sequence_for_the_next()
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 1, 32)) { Gate = new ManualResetEventSlim(false) };
        using var engine = NewEngine(executor);
        using var cancel = new CancellationTokenSource();
        var endless = engine.Submit(Request("a", 200), cancel.Token);
        await WaitUntil(() => engine.Snapshot.Running == 1);

        cancel.Cancel();
        executor.Gate.Set();
        var (_, finished) = await EngineOutput.ReadAll(endless);
        Assert.Equal(FinishReason.Cancelled, finished.Reason);
        Assert.Contains((new SequenceSlot(0), 0, int.MaxValue), executor.Kv.Removals);

        var (text, _) = await EngineOutput.ReadAll(engine.Submit(Request("a", 3), CancellationToken.None));
        Assert.Equal("bcd", text);
    }

    [Fact]
    public async Task A_full_queue_refuses_new_requests_until_there_is_room()
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 1, 32)) { Gate = new ManualResetEventSlim(false) };
        using var engine = NewEngine(executor, maxQueue: 1);
        var first = engine.Submit(Request("a", 2), CancellationToken.None);
        await WaitUntil(() => engine.Snapshot.Running == 1);
        var second = engine.Submit(Request("b", 2), CancellationToken.None);

        var refused = Assert.Throws<EngineOverloadedException>(() => engine.Submit(Request("c", 2), CancellationToken.None));
        Assert.Equal(1, refused.QueueLimit);

        executor.Gate.Set();
        await EngineOutput.ReadAll(first);
        await EngineOutput.ReadAll(second);
        var (text, _) = await EngineOutput.ReadAll(engine.Submit(Request("c", 2), CancellationToken.None));
        Assert.Equal("bc", text);
    }

    /// <summary>
    /// An engine of one sequence with a queue-wait limit of two seconds on its deadline clock, and <paramref name="waitingPrompt"/>
    /// queued behind a request held in its first decode until that clock has moved on by <paramref name="waited"/>.
    /// </summary>
    private static async Task<(InferenceEngine Engine, FakeExecutor Executor, ChannelReader<GenerationEvent> First, ChannelReader<GenerationEvent> Waiting)>
        WaitedBehindARunningRequest(TimeSpan waited, string waitingPrompt)
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 1, 32)) { Gate = new ManualResetEventSlim(false) };
        var deadlines = new SteppingClock();
        var engine = new InferenceEngine(executor, new FakeTokenizer(), new EngineOptions { MaxQueueWait = TimeSpan.FromSeconds(2) },
            NullLogger<InferenceEngine>.Instance, deadlineClock: deadlines);
        var first = engine.Submit(Request("a", 2), CancellationToken.None);
        await WaitUntil(() => engine.Snapshot.Running == 1);
        var waiting = engine.Submit(Request(waitingPrompt, 2), CancellationToken.None);
        Assert.Equal(1, engine.QueuedRequests);
        deadlines.Advance(waited);
        executor.Gate.Set();
        return (engine, executor, first, waiting);
    }

    [Fact]
    public async Task A_request_waiting_longer_than_the_queue_wait_limit_ends_with_an_error_and_never_runs()
    {
        var (engine, executor, first, waiting) = await WaitedBehindARunningRequest(TimeSpan.FromHours(1), "zzzz");
        using var _ = engine;

        var error = await Assert.ThrowsAsync<QueueWaitExceededException>(() => EngineOutput.ReadAll(waiting));
        Assert.Equal(TimeSpan.FromSeconds(2), error.Limit);
        var (_, finished) = await EngineOutput.ReadAll(first);
        // The deadline clock decides expiry only: the running request's timings are on the engine's clock, without the hour's jump.
        Assert.True(finished.Timings.Total < TimeSpan.FromHours(1), $"{finished.Timings.Total} measured on the deadline clock");
        await WaitUntil(() => engine.Snapshot is { Running: 0, Waiting: 0, ReservedCells: 0 } && engine.QueuedRequests == 0);
        Assert.DoesNotContain(executor.Batches.SelectMany(b => b), t => t.Token == 'z');
    }

    [Fact]
    public async Task A_request_that_waits_exactly_the_queue_wait_limit_is_still_served()
    {
        var (engine, _, first, waiting) = await WaitedBehindARunningRequest(TimeSpan.FromSeconds(2), "m");
        using var _ = engine;

        await EngineOutput.ReadAll(first);
        var (text, finished) = await EngineOutput.ReadAll(waiting);
        Assert.Equal("bc", text); // the fake model continues the alphabet from the prompt's one position
        Assert.Equal(FinishReason.Length, finished.Reason);
    }

    [Fact]
    public async Task Cancelling_a_waiting_request_removes_it_without_running_it()
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 1, 32)) { Gate = new ManualResetEventSlim(false) };
        using var engine = NewEngine(executor);
        var first = engine.Submit(Request("a", 2), CancellationToken.None);
        await WaitUntil(() => engine.Snapshot.Running == 1);
        using var cancel = new CancellationTokenSource();
        var waiting = engine.Submit(Request("zzzz", 2), cancel.Token);
        cancel.Cancel();
        executor.Gate.Set();

        var (_, finished) = await EngineOutput.ReadAll(waiting);
        Assert.Equal(FinishReason.Cancelled, finished.Reason);
        Assert.Equal(0, finished.CompletionTokens);
        await EngineOutput.ReadAll(first);
        Assert.DoesNotContain(executor.Batches.SelectMany(b => b), t => t.Token == 'z');
    }

    [Fact]
    public void Requests_longer_than_a_sequence_may_hold_are_refused()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(1024, 16, 2, 32)));
        Assert.Throws<ArgumentException>(() => engine.Submit(Request(new string('a', 10), 7), CancellationToken.None));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not reached.");
            await Task.Delay(5);
        }
    }
}
