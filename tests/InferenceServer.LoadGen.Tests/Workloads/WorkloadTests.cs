using InferenceServer.LoadGen.Workloads;

namespace InferenceServer.LoadGen.Tests.Workloads;

public sealed class WorkloadTests
{
    private static int Words(string text) => text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void Random_prompts_have_the_requested_word_counts_and_output_lengths()
    {
        var workload = new RandomWorkload(seed: 1, new LengthRange(10, 20), LengthRange.Fixed(7));
        List<TurnPlan> turns = Enumerable.Range(0, 200).Select(i => Assert.Single(workload.Create(i).Turns)).ToList();
        Assert.All(turns, t => Assert.InRange(Words(t.UserText), 10, 20));
        Assert.All(turns, t => Assert.Equal(7, t.MaxTokens));
        Assert.Contains(turns, t => Words(t.UserText) == 10);
        Assert.Contains(turns, t => Words(t.UserText) == 20);
    }

    [Fact]
    public void Prompts_depend_only_on_seed_and_conversation_id()
    {
        var a = new RandomWorkload(5, LengthRange.Fixed(30), LengthRange.Fixed(4));
        var b = new RandomWorkload(5, LengthRange.Fixed(30), LengthRange.Fixed(4));
        var c = new RandomWorkload(6, LengthRange.Fixed(30), LengthRange.Fixed(4));
        Assert.Equal(a.Create(3).Turns, b.Create(3).Turns);          // order of creation does not matter
        Assert.Equal(a.Create(3).Turns, a.Create(3).Turns);
        Assert.NotEqual(a.Create(3).Turns[0].UserText, a.Create(4).Turns[0].UserText);
        Assert.NotEqual(a.Create(3).Turns[0].UserText, c.Create(3).Turns[0].UserText);
    }

    [Fact]
    public void Shared_prefix_prompts_share_the_prefix_and_differ_after_it()
    {
        var workload = new SharedPrefixWorkload(2, prefixWords: 50, LengthRange.Fixed(5), LengthRange.Fixed(3));
        string p0 = workload.Create(0).Turns[0].UserText, p1 = workload.Create(1).Turns[0].UserText;
        string prefix = p0[..p0.IndexOf("\n\n", StringComparison.Ordinal)];
        Assert.StartsWith(prefix, p1);
        Assert.Equal(50, Words(prefix));
        Assert.NotEqual(p0, p1);
        Assert.InRange(Words(p0), 55, 60); // prefix + a short request label + 5 suffix words
    }

    [Fact]
    public void Multi_turn_conversations_have_k_turns()
    {
        var workload = new MultiTurnWorkload(3, turns: 4, LengthRange.Fixed(6), LengthRange.Fixed(2));
        ConversationPlan plan = workload.Create(0);
        Assert.Equal(4, plan.Turns.Count);
        Assert.Equal(4, workload.TurnsPerConversation);
        Assert.All(plan.Turns, t => Assert.Equal(6, Words(t.UserText)));
        Assert.Equal(4, plan.Turns.Select(t => t.UserText).Distinct().Count());
    }

    [Fact]
    public void Mixed_workload_sends_long_prompts_at_roughly_the_given_fraction()
    {
        var workload = new MixedWorkload(4, LengthRange.Fixed(8), longInputWords: 300, longFraction: 0.25, LengthRange.Fixed(2));
        int longOnes = Enumerable.Range(0, 1000).Count(i => Words(workload.Create(i).Turns[0].UserText) == 300);
        Assert.InRange(longOnes, 200, 300);
    }

    [Theory]
    [InlineData("128", 128, 128)]
    [InlineData("64:256", 64, 256)]
    [InlineData("0", 0, 0)]
    public void Length_ranges_parse(string text, int min, int max) => Assert.Equal(new LengthRange(min, max), LengthRange.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("5:")]
    [InlineData("1:2:3")]
    [InlineData("-1")]
    public void Bad_length_ranges_are_rejected(string text) => Assert.Throws<FormatException>(() => LengthRange.Parse(text));
}
