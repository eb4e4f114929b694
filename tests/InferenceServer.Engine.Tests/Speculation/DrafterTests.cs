namespace InferenceServer.Engine.Tests.Speculation;

public class DrafterTests
{
    private static int[] Tokens(string text) => text.Select(c => (int)c).ToArray();

    /// <summary>A token's text: the character of its id, or a word from <paramref name="words"/>.</summary>
    private static Func<int, byte[]> Pieces(Dictionary<int, string>? words = null) => token =>
        System.Text.Encoding.UTF8.GetBytes(words is not null && words.TryGetValue(token, out var word) ? word : ((char)token).ToString());

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
        var drafter = new PredictionDrafter(Tokens("the quick brown fox"), Pieces());
        Assert.Equal("the ", Propose(drafter, "prompt>", 0, 4));
        drafter.Settled(4, 4);
        // All four accepted and the next token generated was the predicted 'q'.
        Assert.Equal("uick", Propose(drafter, "prompt>the q", 5, 4));
    }

    [Fact]
    public void After_an_edit_the_prediction_is_found_again()
    {
        // Word tokens: 'the quick brown fox jumps over the lazy dog'.
        int[] prediction = [1, 2, 3, 4, 5, 6, 1, 7, 8];
        var drafter = new PredictionDrafter(prediction, Pieces());
        var draft = new int[4];
        Assert.Equal(4, drafter.Propose([100], 0, draft));
        Assert.Equal([1, 2, 3, 4], draft);
        // 'the quick brown' accepted, then the model wrote 'red' (50) where 'fox' was predicted: a word the prediction
        // lacks, taken as a substitution.
        drafter.Settled(4, 3);
        Assert.Equal(4, drafter.Propose([100, 1, 2, 3, 50], 4, draft));
        Assert.Equal([5, 6, 1, 7], draft);
        // Nothing accepted: the model skipped ahead to 'lazy' (7), which the prediction has later; the draft resumes after it.
        drafter.Settled(4, 0);
        Assert.Equal(1, drafter.Propose([100, 1, 2, 3, 50, 7], 5, draft));
        Assert.Equal(8, draft[0]);
    }

    /// <summary>
    /// The engine's use of a drafter, simulated: each step proposes up to 16 tokens after the answer so far, the
    /// model keeps the drafted tokens that match its answer plus one token of its own. Returns the tokens accepted.
    /// </summary>
    private static int AcceptedWhileGenerating(IDrafter drafter, int[] prompt, int[] answer)
    {
        var draft = new int[16];
        var (generated, accepted) = (0, 0);
        while (generated < answer.Length)
        {
            // The history ends with the token fed this step: the prompt's last, or the latest generated one.
            int[] history = [.. prompt, .. answer[..generated]];
            var count = drafter.Propose(history, generated, draft.AsSpan(0, Math.Min(16, answer.Length - generated - 1)));
            var kept = 0;
            while (kept < count && draft[kept] == answer[generated + kept]) kept++;
            drafter.Settled(count, kept);
            accepted += kept;
            generated += kept + 1;
        }
        return accepted;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_prediction_with_a_word_replaced_every_20_tokens_stays_aligned_after_each_edit(bool runsOfRepeats)
    {
        // 128 answer tokens, all different or in runs of one repeated token (as a random-weight model writes: its
        // n-grams then occur all over the prediction); the prediction replaces every 20th by two tokens of another word.
        var random = new Random(7);
        var answer = runsOfRepeats
            ? Enumerable.Range(0, 12).SelectMany(_ => Enumerable.Repeat(random.Next(1000, 30000), random.Next(3, 20))).Take(128).ToArray()
            : Enumerable.Range(1000, 128).ToArray();
        var prediction = answer.SelectMany((t, i) => i % 20 == 19 ? new[] { 7, 8 } : new[] { t }).ToArray();

        var accepted = AcceptedWhileGenerating(new PredictionDrafter(prediction, Pieces()), [1, 2, 3], answer);

        // Six edits, each costing the edited token and at most a step or two of drafts.
        Assert.True(accepted >= 128 - 6 * 3 - 8, $"accepted {accepted} of 128");
    }

    [Fact]
    public void A_predicted_token_the_model_spells_with_other_tokens_is_followed_through_and_the_draft_resumes_after_it()
    {
        var words = new Dictionary<int, string> { [1] = "the", [2] = " quick", [3] = " brown", [4] = " fox", [20] = " qu", [21] = "ick" };
        var drafter = new PredictionDrafter([1, 2, 3, 4], Pieces(words));
        var draft = new int[4];
        Assert.Equal(4, drafter.Propose([100], 0, draft));
        // 'the' accepted, then the model wrote ' qu' where ' quick' was predicted: still the prediction's text.
        drafter.Settled(4, 1);
        Assert.Equal(0, drafter.Propose([100, 1, 20], 2, draft));
        // 'ick' ends the predicted ' quick': the draft goes on from ' brown'.
        Assert.Equal(2, drafter.Propose([100, 1, 20, 21], 3, draft));
        Assert.Equal([3, 4], draft[..2]);
    }

    [Fact]
    public void A_prediction_tokenised_otherwise_than_the_model_writes_it_loses_only_the_tokens_spelt_differently()
    {
        // The model writes 128 one-character tokens; the prediction is the same text with every tenth pair merged into
        // one token (as a tokenizer's "would " against a model's "wo", "u", "ld ").
        var answer = Enumerable.Range(1000, 128).ToArray();
        var words = new Dictionary<int, string>();
        var prediction = new List<int>();
        for (var i = 0; i < answer.Length; i++)
        {
            if (i % 10 == 5 && i + 1 < answer.Length)
            {
                var merged = 50000 + i;
                words[merged] = $"{(char)answer[i]}{(char)answer[i + 1]}";
                prediction.Add(merged);
                i++;
                continue;
            }
            prediction.Add(answer[i]);
        }

        var accepted = AcceptedWhileGenerating(new PredictionDrafter([.. prediction], Pieces(words)), [1, 2, 3], answer);

        // Thirteen merged tokens, each refused once and its second half generated without a draft.
        Assert.True(accepted >= 128 - 13 * 2 - 8, $"accepted {accepted} of 128");
    }
}
