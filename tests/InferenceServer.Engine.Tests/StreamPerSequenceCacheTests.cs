using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>
/// Prefix reuse when every sequence has its own KV stream (the default layout): a finished request's stream
/// stays resident in its slot, and a new request keeps the longest prefix it shares, from its own slot or
/// from a whole-stream copy of a running sequence. The fake KV cache fails a decode that leaves a gap or
/// writes a position twice, so every test also checks that kept cells and fed positions line up.
/// </summary>
public class StreamPerSequenceCacheTests
{
    private const int Slots = 4;
    private static readonly int[] SystemPrompt = Enumerable.Range(0, 100).Select(i => 'A' + i % 26).ToArray();

    private static ModelLimits Limits(int slots = Slots, int batch = 512) =>
        new(slots * 512, 512, slots, batch, SequenceIds: slots, SequenceCapacity: 512);

    private static GenerationRequest Request(string id, int[] prompt, int maxNew, string key = "", bool promptLogprobs = false) =>
        new(id, prompt, maxNew, new SamplingParameters(0), [], key) { PromptLogprobs = promptLogprobs, Logprobs = promptLogprobs ? 0 : null };

    private static int[] WithSuffix(int[] prefix, string suffix) => [.. prefix, .. suffix.Select(c => (int)c)];

    private static InferenceEngine NewEngine(FakeExecutor executor, bool caching = true) =>
        new(executor, new FakeTokenizer(), new EngineOptions { PrefixCaching = caching }, NullLogger<InferenceEngine>.Instance);

    private static Task<(string Text, GenerationFinished Finished)> Run(InferenceEngine engine, GenerationRequest request) =>
        EngineOutput.ReadAll(engine.Submit(request, CancellationToken.None));

    [Fact]
    public async Task A_repeated_prompt_reuses_its_slot_in_place_and_decodes_only_its_last_token()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        var cold = await Run(engine, Request("cold", SystemPrompt, 8));
        var batchesBefore = executor.Batches.Count;
        var warm = await Run(engine, Request("warm", SystemPrompt, 8));

        Assert.Equal(cold.Text, warm.Text);
        Assert.Equal(99, warm.Finished.CachedPromptTokens);
        Assert.Equal([99], executor.Batches[batchesBefore].Select(t => t.Position));
        Assert.Equal(executor.Batches[0][0].Slot, executor.Batches[batchesBefore][0].Slot);
        Assert.Empty(executor.Kv.StreamCopies);
    }

    [Fact]
    public async Task A_follow_up_turn_keeps_the_previous_prompt_and_answer_and_drops_the_rest_of_the_stream()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        var turn1 = WithSuffix(SystemPrompt, "hi");
        var (answer, _) = await Run(engine, Request("t1", turn1, 6));
        var turn2 = WithSuffix(WithSuffix(turn1, answer[..3]), "edited");
        var (_, finished) = await Run(engine, Request("t2", turn2, 4));

        // Only the first three answer tokens match; the resident cells after them are dropped before the new ones are written.
        Assert.Equal(turn1.Length + 3, finished.CachedPromptTokens);
        var slot = executor.Batches[^1][0].Slot;
        Assert.Contains((slot, turn1.Length + 3, int.MaxValue), executor.Kv.Removals);
    }

    [Fact]
    public async Task Concurrent_requests_with_one_system_prompt_compute_it_once_and_copy_the_stream()
    {
        var executor = new FakeExecutor(Limits(slots: 8)) { Gate = new ManualResetEventSlim(false) };
        using var engine = NewEngine(executor);
        // Decodes wait until all eight are queued: none may finish before the others arrive.
        var runs = Enumerable.Range(0, 8).Select(i => Run(engine, Request($"r{i}", WithSuffix(SystemPrompt, $"user {i}"), 10))).ToArray();
        executor.Gate.Set();
        var results = await Task.WhenAll(runs);

        var prefillTokens = executor.Batches.SelectMany(b => b).Count(t => t.Position < SystemPrompt.Length);
        Assert.Equal(SystemPrompt.Length, prefillTokens);
        Assert.Equal(7, results.Count(r => r.Finished.CachedPromptTokens >= SystemPrompt.Length));
        Assert.Equal(7, executor.Kv.StreamCopies.Count);
        Assert.All(results, r => Assert.Equal(10, r.Finished.CompletionTokens));
    }

    [Fact]
    public async Task No_decode_holds_64_or_more_prompt_tokens_of_one_sequence()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor, caching: false);
        var longPrompt = Enumerable.Range(0, 300).Select(i => 'a' + i % 26).ToArray();
        await Task.WhenAll(Run(engine, Request("a", longPrompt, 4)), Run(engine, Request("b", longPrompt.Reverse().ToArray(), 4)));

        var largest = executor.Batches.SelectMany(b => b.GroupBy(t => t.Slot)).Max(g => g.Count());
        Assert.Equal(63, largest);
    }

    [Fact]
    public async Task With_batch_invariant_attention_a_prompt_goes_in_one_chunk_with_its_last_token_and_gives_the_same_text()
    {
        var longPrompt = Enumerable.Range(0, 300).Select(i => 'a' + i % 26).ToArray();
        var chunkedExecutor = new FakeExecutor(Limits());
        using var chunkedEngine = NewEngine(chunkedExecutor, caching: false);
        var chunked = await Run(chunkedEngine, Request("chunked", longPrompt, 6));
        var executor = new FakeExecutor(Limits() with { BatchInvariant = true });
        using var engine = NewEngine(executor, caching: false);
        var whole = await Run(engine, Request("whole", longPrompt, 6));

        Assert.Equal(chunked.Text, whole.Text);
        Assert.Equal(chunked.Finished.CompletionTokens, whole.Finished.CompletionTokens);
        // The whole prompt in the first decode, logits wanted for its last token only, where chunks of 63 took
        // five decodes and the last token a sixth.
        Assert.Equal(Enumerable.Range(0, 300), executor.Batches[0].Select(t => t.Position));
        Assert.Equal([299], executor.Batches[0].Where(t => t.WantLogits).Select(t => t.Position));
        Assert.Equal(chunkedExecutor.Batches.Count - 5, executor.Batches.Count);
    }

    [Fact]
    public async Task A_short_chat_continues_in_its_own_slot_when_it_shares_most_of_what_the_slot_holds()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        var turn1 = Enumerable.Range(0, 20).Select(i => 'a' + i % 26).ToArray();
        var (answer, _) = await Run(engine, Request("t1", turn1, 16));
        var slot = executor.Batches[^1][0].Slot;
        // Shares turn 1 and part of its answer (30 tokens): under half of the new prompt, but most of what the slot holds.
        var turn2 = WithSuffix(WithSuffix(turn1, answer[..10]), new string('n', 40));
        var (_, finished) = await Run(engine, Request("t2", turn2, 4));

        Assert.Equal(30, finished.CachedPromptTokens);
        Assert.Equal(slot, executor.Batches[^1][0].Slot);
    }

    [Fact]
    public async Task A_new_request_takes_the_slot_sharing_most_of_its_prompt_else_the_least_recently_used()
    {
        var executor = new FakeExecutor(Limits(slots: 2));
        using var engine = NewEngine(executor);
        var a = WithSuffix(SystemPrompt, "first conversation");
        var b = Enumerable.Range(0, 50).Select(i => 'a' + i % 26).ToArray();
        await Run(engine, Request("a", a, 4));
        var slotOfA = executor.Batches[^1][0].Slot;
        await Run(engine, Request("b", b, 4));
        var slotOfB = executor.Batches[^1][0].Slot;
        Assert.NotEqual(slotOfA, slotOfB);

        // Shares the system prompt with a: lands on a's slot, not on b's (which was used more recently).
        var (_, again) = await Run(engine, Request("a2", WithSuffix(SystemPrompt, "second conversation"), 4));
        Assert.Equal(slotOfA, executor.Batches[^1][0].Slot);
        Assert.True(again.CachedPromptTokens >= SystemPrompt.Length);

        // Shares nothing: takes the least recently used slot, now b's, and reuses nothing.
        var (_, unrelated) = await Run(engine, Request("c", [.. Enumerable.Repeat((int)'z', 20)], 4));
        Assert.Equal(slotOfB, executor.Batches[^1][0].Slot);
        Assert.Equal(0, unrelated.CachedPromptTokens);
        Assert.True(engine.Snapshot.PrefixCache.Evictions >= 1);
    }

    [Fact]
    public async Task A_request_sharing_only_its_first_tokens_takes_an_empty_slot_and_leaves_the_conversation_resident()
    {
        var executor = new FakeExecutor(Limits(slots: 2));
        using var engine = NewEngine(executor);
        int[] story = [1, .. "Once upon a time".Select(c => (int)c)];
        await Run(engine, Request("story", story, 4));
        // Shares the first token (a BOS) with the story's slot: not worth evicting it for.
        await Run(engine, Request("chat", [1, .. Enumerable.Repeat((int)'q', 40)], 4));
        var (_, again) = await Run(engine, Request("story again", story, 4));

        Assert.Equal(story.Length - 1, again.CachedPromptTokens);
    }

    [Fact]
    public async Task Different_isolation_keys_never_reuse_each_others_streams()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        await Run(engine, Request("a", SystemPrompt, 4, key: "tenant-a"));
        var (_, other) = await Run(engine, Request("b", SystemPrompt, 4, key: "tenant-b"));
        var (_, same) = await Run(engine, Request("c", SystemPrompt, 4, key: "tenant-a"));

        Assert.Equal(0, other.CachedPromptTokens);
        Assert.Equal(99, same.CachedPromptTokens);
    }

    [Fact]
    public async Task A_request_scoring_its_prompt_reuses_nothing_and_clears_its_slot()
    {
        var executor = new FakeExecutor(Limits(slots: 1));
        using var engine = NewEngine(executor);
        await Run(engine, Request("warm", SystemPrompt, 4));
        var (_, scored) = await Run(engine, Request("scored", SystemPrompt, 2, promptLogprobs: true));

        Assert.Equal(0, scored.CachedPromptTokens);
        Assert.Equal(SystemPrompt.Length - 1, executor.Batches.SelectMany(b => b).Count(t => t.WantLogits && t.Position < SystemPrompt.Length - 1));
    }

    [Fact]
    public async Task Cancelled_and_uncached_requests_leave_nothing_resident()
    {
        var executor = new FakeExecutor(Limits(slots: 1));
        using var engine = NewEngine(executor, caching: false);
        await Run(engine, Request("1", SystemPrompt, 4));
        var (_, finished) = await Run(engine, Request("2", SystemPrompt, 4));

        Assert.Equal(0, finished.CachedPromptTokens);
        Assert.Equal(0, executor.Kv.CellsInUse);
        Assert.Equal(0, engine.Snapshot.PrefixCache.CachedCells);
    }

    [Fact]
    public async Task The_snapshot_counts_resident_cells_of_free_slots_as_cached()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        await Run(engine, Request("a", SystemPrompt, 5));

        // The prompt and the four generated tokens fed back (the fifth was sampled, never fed).
        Assert.Equal(SystemPrompt.Length + 4, engine.Snapshot.PrefixCache.CachedCells);
        Assert.Equal(executor.Kv.CellsInUse, engine.Snapshot.PrefixCache.CachedCells);
    }

    [Fact]
    public async Task Each_batch_goes_in_slot_order_and_a_free_slot_between_fed_ones_gets_a_filler_that_is_removed()
    {
        var executor = new FakeExecutor(Limits());
        using var engine = NewEngine(executor);
        await Run(engine, Request("first", SystemPrompt, 40));
        var batchesBefore = executor.Batches.Count;

        // Decodes wait until all three are queued, so that a is at most a step ahead of b and c (it finished before c
        // began, now and then, when the engine thread ran its instant fake decodes first).
        executor.Gate = new ManualResetEventSlim(false);
        var runs = new[] { Run(engine, Request("a", WithSuffix(SystemPrompt, "a"), 40)), Run(engine, Request("b", WithSuffix(SystemPrompt, "b"), 2)),
            Run(engine, Request("c", WithSuffix(SystemPrompt, "c"), 40)) };
        executor.Gate.Set();
        var results = await Task.WhenAll(runs);

        var batches = executor.Batches.Skip(batchesBefore).ToList();
        Assert.All(batches, b => Assert.Equal(b.Select(t => t.Slot.Value).Order(), b.Select(t => t.Slot.Value)));
        // Once b is done, a and c still decode in one run of consecutive ids: b's slot gets a filler without logits.
        Assert.Contains(batches, b => b.Count(t => !t.WantLogits && t.Token == 0) == 1 && b.Count(t => t.WantLogits) == 2);
        Assert.All(results, r => Assert.True(r.Finished.CompletionTokens is 40 or 2));
        // Nothing of a filler stays: every stream holds exactly the tokens its last request fed.
        Assert.Equal(engine.Snapshot.PrefixCache.CachedCells, executor.Kv.CellsInUse);
    }
}
