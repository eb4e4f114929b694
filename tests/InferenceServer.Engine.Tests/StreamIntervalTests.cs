using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>--stream-interval: a request's text in one delta per N generated tokens, the first at once, the rest before it ends.</summary>
public class StreamIntervalTests
{
    private static readonly int[] Prompt = [.. "abc".Select(c => (int)c)];

    private static async Task<List<GenerationEvent>> Events(int interval, GenerationRequest request, Func<int, int, int>? next = null)
    {
        using var engine = new InferenceEngine(new FakeExecutor(new ModelLimits(256, 256, 2, 64), next), new FakeTokenizer(),
            new EngineOptions { StreamInterval = interval }, NullLogger<InferenceEngine>.Instance);
        var events = new List<GenerationEvent>();
        await foreach (var item in engine.Submit(request, CancellationToken.None).ReadAllAsync()) events.Add(item);
        return events;
    }

    private static GenerationRequest Request(int maxNew, params string[] stops) => new("r", Prompt, maxNew, new SamplingParameters(0), stops) { Logprobs = 0 };

    [Fact]
    public async Task Ten_tokens_at_an_interval_of_four_come_as_the_first_then_two_fours_then_the_last_with_every_logprob()
    {
        var each = await Events(1, Request(10));
        var grouped = await Events(4, Request(10));

        var deltas = grouped.OfType<TextDelta>().ToList();
        Assert.Equal([1, 4, 4, 1], deltas.Select(d => d.Text.Length));
        Assert.Equal(string.Concat(each.OfType<TextDelta>().Select(d => d.Text)), string.Concat(deltas.Select(d => d.Text)));
        Assert.Equal(10, each.OfType<TextDelta>().Count());
        // Each delta carries the logprobs of exactly its own tokens.
        Assert.All(deltas, d => Assert.Equal(d.Text, string.Concat(d.Logprobs!.Select(l => (char)l.Token))));
        Assert.IsType<GenerationFinished>(grouped[^1]);
    }

    [Fact]
    public async Task Text_held_for_the_interval_is_sent_with_its_logprobs_before_a_stop_sequence_ends_the_request()
    {
        // The model writes d, e, f, g, …; "g" stops it after three tokens that are still held for the interval of 8.
        var events = await Events(8, Request(20, "g"), (token, _) => token + 1);

        Assert.Equal(["d", "ef"], events.OfType<TextDelta>().Select(d => d.Text));
        // The stop sequence's own token is not sent, nor its logprob.
        Assert.Equal(['d', 'e', 'f'], events.OfType<TextDelta>().SelectMany(d => d.Logprobs!).Select(l => (char)l.Token));
        Assert.Equal(FinishReason.Stop, events.OfType<GenerationFinished>().Single().Reason);
    }
}
