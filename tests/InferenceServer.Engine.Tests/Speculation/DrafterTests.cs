namespace InferenceServer.Engine.Tests.Speculation;

public class DrafterTests
{
    private static int[] Tokens(string text) => text.Select(c => (int)c).ToArray();

    private static string Propose(IDrafter drafter, string history, int generated, int room = 8)
    {
        var draft = new int[room];
        var count = drafter.Propose(Tokens(history), generated, draft);
        return new string(draft.Take(count).Select(t => (char)t).ToArray());
    }

    [Fact]
    public void Ngram_continues_the_latest_earlier_occurrence_of_the_longest_matching_ending()
    {
        var drafter = new NgramDrafter();
        // "the c" ends the history; "he c" occurred with "at" after it, "e c" later with "up".
        Assert.Equal("at s", Propose(drafter, "the cat sat. one cup. the c", 0, 4));
        Assert.Equal("", Propose(drafter, "abcdefg", 0));
    }

    [Fact]
    public void A_prediction_is_proposed_from_its_start_then_followed()
    {
        var drafter = new PredictionDrafter(Tokens("the quick brown fox"));
        Assert.Equal("the ", Propose(drafter, "prompt>", 0, 4));
        drafter.Settled(4);
        // All four accepted and the next token generated was the predicted 'q'.
        Assert.Equal("uick", Propose(drafter, "prompt>the q", 5, 4));
    }

    [Fact]
    public void After_an_edit_the_prediction_is_found_again()
    {
        // Word tokens: 'the quick brown fox jumps over the lazy dog'.
        int[] prediction = [1, 2, 3, 4, 5, 6, 1, 7, 8];
        var drafter = new PredictionDrafter(prediction);
        var draft = new int[4];
        Assert.Equal(4, drafter.Propose([100], 0, draft));
        Assert.Equal([1, 2, 3, 4], draft);
        // 'the quick brown' accepted, then the model wrote 'red' (50) where 'fox' was predicted: a word the prediction
        // lacks, taken as a substitution.
        drafter.Settled(3);
        Assert.Equal(4, drafter.Propose([100, 1, 2, 3, 50], 4, draft));
        Assert.Equal([5, 6, 1, 7], draft);
        // Nothing accepted: the model skipped ahead to 'lazy' (7), which the prediction has later; the draft resumes after it.
        drafter.Settled(0);
        Assert.Equal(1, drafter.Propose([100, 1, 2, 3, 50, 7], 5, draft));
        Assert.Equal(8, draft[0]);
    }
}
