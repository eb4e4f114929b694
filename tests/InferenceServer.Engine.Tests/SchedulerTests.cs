namespace InferenceServer.Engine.Tests;

public class SchedulerTests
{
    // Distinct prompts (each starts with its own token), so the prefix cache never links them.
    private static int _distinct = 1000;

    private static Sequence NewSequence(string id, int promptLength, int maxNew = 4) =>
        new(new GenerationRequest(id, [Interlocked.Increment(ref _distinct), .. Enumerable.Range(1, promptLength - 1)], maxNew, new SamplingParameters(0), []));

    private static Scheduler NewScheduler(int sequences = 4, int cells = 1000, int batch = 64, int maxChunk = int.MaxValue) =>
        new(new ModelLimits(cells, 512, sequences, batch), new FakeKvCache(), prefixCaching: false, maxPrefillChunk: maxChunk);

    /// <summary>What the engine loop does after a decode: every sampled sequence gets a token.</summary>
    private static void SampleAll(StepPlan plan)
    {
        foreach (var (sequence, _) in plan.Samples) sequence.PendingToken = 42;
    }

    [Fact]
    public void Admits_in_arrival_order_up_to_the_sequence_limit()
    {
        var scheduler = NewScheduler(sequences: 2);
        var a = NewSequence("a", 3);
        var b = NewSequence("b", 3);
        var c = NewSequence("c", 3);
        foreach (var s in new[] { a, b, c }) scheduler.Enqueue(s);

        Assert.Equal([a, b], scheduler.Admit());
        Assert.Equal(1, scheduler.WaitingCount);
        Assert.NotEqual(a.Slot, b.Slot);

        scheduler.Release(a, keepInCache: false);
        Assert.Equal([c], scheduler.Admit());
        Assert.Equal(a.Slot, c.Slot);
    }

    [Fact]
    public void A_request_that_does_not_fit_is_not_overtaken_by_later_ones()
    {
        var scheduler = NewScheduler(sequences: 4, cells: 100);
        var big = NewSequence("running", 56);        // reserves 60
        scheduler.Enqueue(big);
        scheduler.Admit();

        var blocked = NewSequence("blocked", 56);    // needs 60, only 40 free
        var small = NewSequence("small", 6);         // would fit, but arrived later
        scheduler.Enqueue(blocked);
        scheduler.Enqueue(small);
        Assert.Empty(scheduler.Admit());

        scheduler.Release(big, keepInCache: false);
        Assert.Equal([blocked, small], scheduler.Admit());
        Assert.Equal(70, scheduler.ReservedCells);
    }

    [Fact]
    public void A_long_prompt_is_prefilled_in_chunks_within_the_batch_budget()
    {
        var scheduler = NewScheduler(batch: 8);
        var sequence = NewSequence("long", 20);
        scheduler.Enqueue(sequence);
        scheduler.Admit();

        var chunks = new List<IReadOnlyList<BatchToken>>();
        for (var step = 0; step < 4; step++)
        {
            var plan = scheduler.Schedule();
            chunks.Add(plan.Batch);
            Assert.Equal(step == 3 ? 1 : 0, plan.Samples.Count);
            SampleAll(plan);
        }

        // The last prompt token goes alone, in the step after the rest of the prompt.
        Assert.Equal([8, 8, 3, 1], chunks.Select(c => c.Count));
        Assert.Equal(Enumerable.Range(0, 20), chunks.SelectMany(c => c).Select(t => t.Position));
        Assert.Equal(sequence.Request.PromptTokens, chunks.SelectMany(c => c).Select(t => t.Token));
        Assert.Equal([19], chunks.SelectMany(c => c).Where(t => t.WantLogits).Select(t => t.Position));
        Assert.Equal(SequenceStatus.Decoding, sequence.Status);
    }

    [Fact]
    public void Running_streams_advance_every_step_while_a_long_prompt_prefills()
    {
        var scheduler = NewScheduler(batch: 8);
        var running = NewSequence("running", 2, maxNew: 100);
        scheduler.Enqueue(running);
        scheduler.Admit();
        SampleAll(scheduler.Schedule()); // its first prompt token
        SampleAll(scheduler.Schedule()); // its last prompt token: now it decodes

        var newcomer = NewSequence("newcomer", 30);
        scheduler.Enqueue(newcomer);
        scheduler.Admit();

        var prefilled = new List<int>();
        for (var step = 0; step < 6; step++)
        {
            var plan = scheduler.Schedule();
            prefilled.Add(plan.Batch.Count(t => t.Slot == newcomer.Slot));
            Assert.Equal(running.Slot, plan.Batch[0].Slot);
            Assert.Equal(2 + step, plan.Batch[0].Position);
            Assert.True(plan.Batch.Count <= 8);
            Assert.Contains(plan.Samples, s => s.Sequence == running);
            SampleAll(plan);
        }
        Assert.Equal([7, 7, 7, 7, 1, 1], prefilled);
        Assert.Equal(SequenceStatus.Decoding, newcomer.Status);
    }

    [Fact]
    public void Prompt_chunks_respect_the_per_sequence_chunk_cap()
    {
        var scheduler = NewScheduler(batch: 64, maxChunk: 16);
        var a = NewSequence("a", 40);
        var b = NewSequence("b", 10);
        scheduler.Enqueue(a);
        scheduler.Enqueue(b);
        scheduler.Admit();

        var plan = scheduler.Schedule();
        Assert.Equal(16, plan.Batch.Count(t => t.Slot == a.Slot));
        Assert.Equal(9, plan.Batch.Count(t => t.Slot == b.Slot));
        Assert.Empty(plan.Samples);
        Assert.Equal([b], scheduler.Schedule().Samples.Select(s => s.Sequence));
    }

    [Fact]
    public void Releasing_a_waiting_request_removes_it_from_the_queue()
    {
        var scheduler = NewScheduler(sequences: 1);
        var a = NewSequence("a", 3);
        var b = NewSequence("b", 3);
        scheduler.Enqueue(a);
        scheduler.Enqueue(b);
        scheduler.Admit();

        scheduler.Release(b, keepInCache: false);
        Assert.Equal(0, scheduler.WaitingCount);
        Assert.Equal(SequenceStatus.Finished, b.Status);
        Assert.Equal(1, scheduler.RunningCount);
    }
}
