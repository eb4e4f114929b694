using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>LoRA adapter sets: one set per decode step, groups taking turns, and no KV shared across sets.</summary>
public class AdapterGroupingTests
{
    private static readonly FakeAdapter Sql = new("sql");
    private static readonly FakeAdapter Tone = new("tone");
    private static int _distinct = 5000;

    private static Sequence NewSequence(AdapterSet adapters, int promptLength = 2, int maxNew = 50) =>
        new(new GenerationRequest($"r{_distinct}", [Interlocked.Increment(ref _distinct), .. Enumerable.Range(1, promptLength - 1)], maxNew,
            new SamplingParameters(0), []) { Adapters = adapters });

    private static Scheduler NewScheduler(bool prefixCaching = false) =>
        new(new ModelLimits(4096, 512, 8, 64, SequenceIds: prefixCaching ? 64 : 8), new FakeKvCache(), prefixCaching);

    private static void SampleAll(StepPlan plan)
    {
        foreach (var (sequence, _) in plan.Samples) sequence.PendingToken = 42;
    }

    [Fact]
    public void Each_step_decodes_one_adapter_set_and_the_sets_take_turns_with_same_set_requests_batched_together()
    {
        var scheduler = NewScheduler();
        var sqlA = NewSequence(Sql.At(1f));
        var baseA = NewSequence(AdapterSet.Base);
        var sqlB = NewSequence(Sql.At(1f));
        var mixed = NewSequence(AdapterSet.Of([new ScaledAdapter(Tone, 0.5f), new ScaledAdapter(Sql, 1f)]));
        foreach (var s in new[] { sqlA, baseA, sqlB, mixed }) scheduler.Enqueue(s);
        Assert.Equal(4, scheduler.Admit().Count);

        var served = new List<(AdapterSet Set, HashSet<Sequence> Sequences)>();
        for (var step = 0; step < 12; step++)
        {
            var plan = scheduler.Schedule();
            var sequences = plan.Batch.Select(t => new[] { sqlA, baseA, sqlB, mixed }.Single(s => s.Slot == t.Slot)).ToHashSet();
            Assert.All(sequences, s => Assert.Equal(plan.Adapters, s.Request.Adapters));
            served.Add((plan.Adapters, sequences));
            SampleAll(plan);
        }

        // Oldest admitted first, then round-robin: sql, base, sql+tone, sql, base, ...
        var expected = new[] { Sql.At(1f), AdapterSet.Base, mixed.Request.Adapters };
        Assert.Equal(Enumerable.Range(0, 12).Select(i => expected[i % 3]), served.Select(s => s.Set));
        Assert.All(served.Where(s => s.Set.Equals(Sql.At(1f))), s => Assert.Equal([sqlA, sqlB], s.Sequences.OrderBy(x => x.Slot.Value)));
        // Two steps of prompt (the last prompt token alone), then one token per turn of its group.
        Assert.All(new[] { sqlA, baseA, sqlB, mixed }, s => Assert.Equal(4, s.FedTokens.Count));
    }

    [Fact]
    public void Every_group_advances_at_least_once_in_as_many_steps_as_there_are_groups_while_groups_come_and_go()
    {
        var scheduler = NewScheduler();
        var sets = new[] { AdapterSet.Base, Sql.At(1f), Tone.At(1f), Sql.At(0.5f) };
        var random = new Random(7);
        var running = new List<Sequence>();
        for (var step = 0; step < 200; step++)
        {
            if (running.Count < 8 && random.Next(3) == 0)
            {
                var arrival = NewSequence(sets[random.Next(sets.Length)], promptLength: random.Next(2, 40), maxNew: random.Next(1, 20));
                scheduler.Enqueue(arrival);
                running.AddRange(scheduler.Admit());
            }
            var groups = running.Select(s => s.Request.Adapters).Distinct().ToList();
            var before = running.ToDictionary(s => s, s => s.FedTokens.Count);
            var lastServed = new Dictionary<AdapterSet, int>();
            // Within as many steps as there are groups now, each of them is decoded.
            for (var turn = 0; turn < groups.Count; turn++)
            {
                var plan = scheduler.Schedule();
                lastServed[plan.Adapters] = turn;
                SampleAll(plan);
            }
            Assert.Equal(groups.ToHashSet(), lastServed.Keys.ToHashSet());
            Assert.All(running, s => Assert.True(s.FedTokens.Count > before[s], $"{s.Request.Id} did not advance"));

            // Done when it has fed its prompt and all but its last generated token (the last is sampled, never fed).
            foreach (var done in running.Where(s => s.FedTokens.Count >= s.PromptLength + s.Request.MaxNewTokens - 1).ToList())
            {
                scheduler.Release(done, keepInCache: false);
                running.Remove(done);
            }
        }
    }

    [Fact]
    public void A_prefix_cached_under_one_adapter_set_is_attached_only_under_the_same_set()
    {
        var scheduler = NewScheduler(prefixCaching: true);
        int[] prompt = [.. Enumerable.Range(100, 40)];
        Sequence Run(AdapterSet adapters)
        {
            var sequence = new Sequence(new GenerationRequest("p", prompt, 4, new SamplingParameters(0), []) { Adapters = adapters });
            scheduler.Enqueue(sequence);
            scheduler.Admit();
            while (sequence.Status != SequenceStatus.Decoding || sequence.GeneratedTokens == 0)
            {
                var plan = scheduler.Schedule();
                scheduler.Decoded(plan);
                foreach (var (s, _) in plan.Samples) (s.PendingToken, s.GeneratedTokens) = (42, s.GeneratedTokens + 1);
            }
            scheduler.Release(sequence, keepInCache: true);
            return sequence;
        }

        Assert.Equal(0, Run(Sql.At(1f)).CachedTokens);
        Assert.Equal(0, Run(AdapterSet.Base).CachedTokens);
        Assert.Equal(0, Run(Sql.At(0.5f)).CachedTokens);
        Assert.Equal(0, Run(Tone.At(1f)).CachedTokens);
        Assert.Equal(prompt.Length - 1, Run(Sql.At(1f)).CachedTokens);
        Assert.Equal(prompt.Length - 1, Run(AdapterSet.Base).CachedTokens);
        // Scale 0 adds nothing: that request is a base request and shares the base's cache.
        Assert.Equal(prompt.Length - 1, Run(Tone.At(0f)).CachedTokens);
    }

    [Fact]
    public async Task The_engine_applies_adapters_only_when_the_set_changes_and_holds_them_only_while_requests_run()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = new InferenceEngine(executor, new FakeTokenizer(), new EngineOptions(), NullLogger<InferenceEngine>.Instance);
        var sql = new FakeAdapter("sql");
        var tone = new FakeAdapter("tone");
        GenerationRequest Request(string prompt, AdapterSet adapters) =>
            new(prompt, prompt.Select(c => (int)c).ToArray(), 6, new SamplingParameters(0), []) { Adapters = adapters };

        executor.Gate = new ManualResetEventSlim(false);
        var first = engine.Submit(Request("ab", sql.At(1f)), CancellationToken.None);
        var second = engine.Submit(Request("cd", sql.At(1f)), CancellationToken.None);
        var third = engine.Submit(Request("ef", tone.At(1f)), CancellationToken.None);
        Assert.Equal((2, 1), (sql.References, tone.References));
        executor.Gate.Set();
        var outputs = await Task.WhenAll(new[] { first, second, third }.Select(EngineOutput.ReadAll));
        await EngineOutput.ReadAll(engine.Submit(Request("gh", tone.At(1f)), CancellationToken.None));

        // The fake model ignores adapters: every output continues the alphabet from its position.
        Assert.All(outputs, o => Assert.Equal("cdefgh", o.Text));
        Assert.Equal((0, 0), (sql.References, tone.References));
        Assert.All(executor.AppliedAdapters.Zip(executor.AppliedAdapters.Skip(1)), pair => Assert.NotEqual(pair.First, pair.Second));
        Assert.Contains(sql.At(1f), executor.AppliedAdapters);
        Assert.Contains(tone.At(1f), executor.AppliedAdapters);

        tone.Unload();
        var refused = Assert.Throws<AdapterUnloadedException>(() => engine.Submit(Request("ij", AdapterSet.Of([new(sql, 1f), new(tone, 1f)])), CancellationToken.None));
        Assert.Equal("tone", refused.AdapterName);
        Assert.Equal((0, 0), (sql.References, tone.References));
        Assert.Equal(0, engine.Snapshot.Waiting);
    }
}
