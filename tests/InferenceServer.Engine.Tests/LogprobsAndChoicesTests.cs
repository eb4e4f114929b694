using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>Logprobs of generated and prompt tokens, and choices of one prompt sharing its prefill.</summary>
public class LogprobsAndChoicesTests
{
    private static GenerationRequest Request(string id, int[] prompt, int maxNew, IReadOnlyList<string>? stops = null) =>
        new(id, prompt, maxNew, new SamplingParameters(0), stops ?? []);

    private static InferenceEngine NewEngine(FakeExecutor executor) =>
        new(executor, new FakeTokenizer(), new EngineOptions(), NullLogger<InferenceEngine>.Instance);

    private static async Task<List<GenerationEvent>> Events(InferenceEngine engine, GenerationRequest request)
    {
        var events = new List<GenerationEvent>();
        await foreach (var item in engine.Submit(request, CancellationToken.None).ReadAllAsync()) events.Add(item);
        return events;
    }

    [Fact]
    public void Log_softmax_matches_a_direct_computation_and_the_alternatives_are_the_best_in_order()
    {
        var random = new Random(7);
        var logits = Enumerable.Range(0, 1000).Select(_ => (float)(random.NextDouble() * 20 - 10)).ToArray();
        var logSum = Math.Log(logits.Sum(l => Math.Exp(l)));

        var result = TokenLogprob.Of(logits, 123, 5);

        Assert.Equal(logits[123] - logSum, result.Logprob, 4);
        var expected = logits.Select((l, i) => (Token: i, Logprob: l - logSum)).OrderByDescending(p => p.Logprob).Take(5).ToList();
        Assert.Equal(expected.Select(e => e.Token), result.Top.Select(t => t.Token));
        for (var i = 0; i < 5; i++) Assert.Equal(expected[i].Logprob, result.Top[i].Logprob, 4);
        Assert.Empty(TokenLogprob.Of(logits, 0, 0).Top);
    }

    [Fact]
    public async Task Each_sent_token_carries_its_logprob_with_sorted_alternatives()
    {
        var executor = new FakeExecutor(new ModelLimits(256, 256, 2, 64));
        using var engine = NewEngine(executor);
        var events = await Events(engine, Request("r", [.. "abc".Select(c => (int)c)], 5) with { Logprobs = 3 });

        var deltas = events.OfType<TextDelta>().ToList();
        var logprobs = deltas.SelectMany(d => d.Logprobs!).ToList();
        Assert.Equal(string.Concat(deltas.Select(d => d.Text)), string.Concat(logprobs.Select(l => (char)l.Token)));
        Assert.Equal(5, logprobs.Count);
        Assert.All(logprobs, l =>
        {
            Assert.True(float.IsFinite(l.Logprob) && l.Logprob < 0);
            Assert.Equal(3, l.Top.Count);
            Assert.Equal(l.Token, l.Top[0].Token);
            Assert.True(l.Top[0].Logprob >= l.Top[1].Logprob && l.Top[1].Logprob >= l.Top[2].Logprob);
        });
    }

    [Fact]
    public async Task Without_logprobs_asked_for_no_delta_carries_any()
    {
        using var engine = NewEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 64)));
        var events = await Events(engine, Request("r", [.. "abc".Select(c => (int)c)], 4));
        Assert.All(events.OfType<TextDelta>(), d => Assert.Null(d.Logprobs));
    }

    [Fact]
    public async Task A_stop_sequence_withholds_its_tokens_logprobs_and_text_held_for_a_stop_is_sent_at_end_of_generation()
    {
        // After "c" the model writes "d", "e", then end-of-generation.
        var executor = new FakeExecutor(new ModelLimits(256, 256, 2, 64), (token, _) => token switch { 'c' => 'd', 'd' => 'e', _ => 0 });
        using var engine = NewEngine(executor);

        var stopped = await Events(engine, Request("stop", [.. "abc".Select(c => (int)c)], 10, ["e"]) with { Logprobs = 0 });
        Assert.Equal("d", string.Concat(stopped.OfType<TextDelta>().Select(d => d.Text)));
        Assert.Equal(['d'], stopped.OfType<TextDelta>().SelectMany(d => d.Logprobs!).Select(l => l.Token));

        // "de" could be the start of "def": held, then released when the model ends instead.
        var ended = await Events(engine, Request("eos", [.. "abc".Select(c => (int)c)], 10, ["def"]) with { Logprobs = 0 });
        Assert.Equal("de", string.Concat(ended.OfType<TextDelta>().Select(d => d.Text)));
        Assert.Equal(['d', 'e'], ended.OfType<TextDelta>().SelectMany(d => d.Logprobs!).Select(l => l.Token));
        Assert.Equal(FinishReason.Stop, ended.OfType<GenerationFinished>().Single().Reason);
    }

    [Fact]
    public async Task Prompt_logprobs_score_every_prompt_token_after_the_first_even_when_the_prompt_is_cached()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 4, 16));
        using var engine = NewEngine(executor);
        var prompt = Enumerable.Range(0, 40).Select(i => 'a' + i % 26).ToArray();
        await Events(engine, Request("warm-up", prompt, 2));

        var events = await Events(engine, Request("scored", prompt, 2) with { PromptLogprobs = true, Logprobs = 2 });

        var scored = Assert.Single(events.OfType<PromptLogprobs>()).Tokens;
        Assert.Equal(prompt[1..], scored.Select(t => t.Token));
        // The fake continues the alphabet, so every prompt token is the model's first choice.
        Assert.All(scored, t => Assert.Equal(t.Token, t.Top[0].Token));
        Assert.Equal(0, events.OfType<GenerationFinished>().Single().CachedPromptTokens);
    }

    [Fact]
    public async Task Choices_of_one_short_prompt_compute_it_once()
    {
        var executor = new FakeExecutor(new ModelLimits(1024, 512, 8, 64));
        using var engine = NewEngine(executor);
        var prompt = Enumerable.Range(0, 12).Select(i => 'a' + i).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            EngineOutput.ReadAll(engine.Submit(Request($"c{i}", prompt, 3) with { PrefillGroup = "group" }, CancellationToken.None))));

        // Positions 0..10 are the shared prefix; each choice decodes only its own last prompt token.
        Assert.Equal(prompt.Length - 1, executor.Batches.SelectMany(b => b).Count(t => t.Position < prompt.Length - 1));
        Assert.Equal(3, results.Count(r => r.Finished.CachedPromptTokens == prompt.Length - 1));
    }

    [Fact]
    public void A_choice_waits_for_its_siblings_prefill_where_an_unrelated_request_with_the_same_short_prompt_does_not()
    {
        var scheduler = new Scheduler(new ModelLimits(1024, 512, 8, 64), new FakeKvCache());
        var prompt = Enumerable.Range(0, 12).Select(i => 'a' + i).ToArray();
        Sequence New(string id, string? group) => new(Request(id, prompt, 3) with { PrefillGroup = group });
        var first = New("c0", "group");
        var sibling = New("c1", "group");
        var unrelated = New("other", null);
        foreach (var s in new[] { first, sibling, unrelated }) scheduler.Enqueue(s);

        // FIFO: the sibling waits for the first choice's prefill, and so does everything behind it.
        Assert.Equal([first], scheduler.Admit());
        var prefill = scheduler.Schedule();
        Assert.Equal(prompt.Length - 1, prefill.Batch.Count);
        scheduler.Decoded(prefill);

        Assert.Equal([sibling, unrelated], scheduler.Admit());
        Assert.Equal(prompt.Length - 1, sibling.CachedTokens);

        var alone = new Scheduler(new ModelLimits(1024, 512, 8, 64), new FakeKvCache());
        var a = New("a", null);
        var b = New("b", null);
        alone.Enqueue(a);
        alone.Enqueue(b);
        Assert.Equal([a, b], alone.Admit());
    }
}
