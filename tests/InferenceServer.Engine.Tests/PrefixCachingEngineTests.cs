using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>The engine with its prefix cache, over a fake model whose KV cells are simulated.</summary>
public class PrefixCachingEngineTests
{
    private static readonly int[] SystemPrompt = Enumerable.Range(0, 100).Select(i => 'A' + i % 26).ToArray();

    private static GenerationRequest Request(string id, int[] prompt, int maxNew, string key = "") =>
        new(id, prompt, maxNew, new SamplingParameters(0), [], key);

    private static int[] WithSuffix(int[] prefix, string suffix) => [.. prefix, .. suffix.Select(c => (int)c)];

    private static InferenceEngine NewEngine(FakeExecutor executor, bool caching = true) =>
        new(executor, new FakeTokenizer(), new EngineOptions { PrefixCaching = caching }, NullLogger<InferenceEngine>.Instance);

    [Fact]
    public async Task A_repeated_prompt_decodes_only_its_last_token_and_gives_the_same_output()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = NewEngine(executor);
        var cold = await EngineOutput.ReadAll(engine.Submit(Request("cold", SystemPrompt, 8), CancellationToken.None));
        var batchesBefore = executor.Batches.Count;
        var warm = await EngineOutput.ReadAll(engine.Submit(Request("warm", SystemPrompt, 8), CancellationToken.None));

        Assert.Equal(cold.Text, warm.Text);
        Assert.Equal(0, cold.Finished.CachedPromptTokens);
        Assert.Equal(99, warm.Finished.CachedPromptTokens);
        var firstWarmBatch = executor.Batches[batchesBefore];
        Assert.Equal([99], firstWarmBatch.Select(t => t.Position));
    }

    [Fact]
    public async Task A_follow_up_turn_reuses_the_previous_prompt_and_answer()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = NewEngine(executor);
        var turn1 = WithSuffix(SystemPrompt, "hi");
        var (answer, _) = await EngineOutput.ReadAll(engine.Submit(Request("t1", turn1, 6), CancellationToken.None));
        var turn2 = WithSuffix(WithSuffix(turn1, answer), "more");
        var (_, finished) = await EngineOutput.ReadAll(engine.Submit(Request("t2", turn2, 4), CancellationToken.None));

        // The answer's last token was sampled but never fed back, so it is the only part not cached.
        Assert.Equal(turn1.Length + answer.Length - 1, finished.CachedPromptTokens);
    }

    [Fact]
    public async Task Eight_concurrent_requests_with_one_system_prompt_share_one_copy_of_it()
    {
        var executor = new FakeExecutor(new ModelLimits(2048, 512, 8, 512));
        using var engine = NewEngine(executor);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            EngineOutput.ReadAll(engine.Submit(Request($"r{i}", WithSuffix(SystemPrompt, $"user {i}"), 10), CancellationToken.None))));

        var prefillTokens = executor.Batches.SelectMany(b => b).Count(t => t.Position < SystemPrompt.Length);
        Assert.Equal(SystemPrompt.Length, prefillTokens);
        // Seven of them reuse at least the system prompt (the suffixes share "user " too).
        Assert.True(results.Count(r => r.Finished.CachedPromptTokens >= SystemPrompt.Length) == 7, string.Join(",", results.Select(r => r.Finished.CachedPromptTokens)));
        // One prefix plus each request's own suffix and answer.
        Assert.True(executor.Kv.CellsInUse <= SystemPrompt.Length + 8 * (6 + 10), $"{executor.Kv.CellsInUse} cells in use");
    }

    [Fact]
    public async Task Different_isolation_keys_never_share_cached_prompts()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = NewEngine(executor);
        await EngineOutput.ReadAll(engine.Submit(Request("a", SystemPrompt, 4, key: "tenant-a"), CancellationToken.None));
        var (_, other) = await EngineOutput.ReadAll(engine.Submit(Request("b", SystemPrompt, 4, key: "tenant-b"), CancellationToken.None));
        var (_, same) = await EngineOutput.ReadAll(engine.Submit(Request("c", SystemPrompt, 4, key: "tenant-a"), CancellationToken.None));

        Assert.Equal(0, other.CachedPromptTokens);
        Assert.Equal(99, same.CachedPromptTokens);
    }

    [Fact]
    public async Task Under_memory_pressure_old_prefixes_are_evicted_and_every_request_still_finishes()
    {
        var executor = new FakeExecutor(new ModelLimits(300, 300, 4, 64));
        using var engine = NewEngine(executor);
        var prompts = Enumerable.Range(0, 30).Select(i => Enumerable.Range(0, 60).Select(j => 1000 + i * 100 + j).ToArray()).ToList();
        var results = await Task.WhenAll(prompts.Select((p, i) => EngineOutput.ReadAll(engine.Submit(Request($"p{i}", p, 20), CancellationToken.None))));

        Assert.All(results, r => Assert.Equal(20, r.Finished.CompletionTokens));
        Assert.True(engine.Snapshot.PrefixCache.Evictions > 0);
        Assert.True(executor.Kv.CellsInUse <= 300);
        Assert.Equal(engine.Snapshot.PrefixCache.CachedCells, executor.Kv.CellsInUse);
    }

    [Fact]
    public async Task Cancelling_a_request_whose_prefix_another_shares_leaves_the_other_intact()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = NewEngine(executor);
        var alone = await EngineOutput.ReadAll(engine.Submit(Request("reference", WithSuffix(SystemPrompt, "x"), 30), CancellationToken.None));
        using var engineForPair = NewEngine(executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64)));

        using var cancel = new CancellationTokenSource();
        var first = engineForPair.Submit(Request("first", WithSuffix(SystemPrompt, "y"), 200), cancel.Token);
        Assert.True(await first.WaitToReadAsync());
        var second = engineForPair.Submit(Request("second", WithSuffix(SystemPrompt, "x"), 30), CancellationToken.None);
        cancel.Cancel();

        var (_, cancelled) = await EngineOutput.ReadAll(first);
        var survivor = await EngineOutput.ReadAll(second);
        Assert.Equal(alone.Text, survivor.Text);
        Assert.True(survivor.Finished.CachedPromptTokens >= SystemPrompt.Length);
        Assert.Equal(engineForPair.Snapshot.PrefixCache.CachedCells, executor.Kv.CellsInUse);
    }

    [Fact]
    public async Task With_caching_off_nothing_is_reused()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 64));
        using var engine = NewEngine(executor, caching: false);
        await EngineOutput.ReadAll(engine.Submit(Request("1", SystemPrompt, 4), CancellationToken.None));
        var (_, finished) = await EngineOutput.ReadAll(engine.Submit(Request("2", SystemPrompt, 4), CancellationToken.None));

        Assert.Equal(0, finished.CachedPromptTokens);
        Assert.Equal(0, executor.Kv.CellsInUse);
    }
}
