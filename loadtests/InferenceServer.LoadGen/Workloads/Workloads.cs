namespace InferenceServer.LoadGen.Workloads;

/// <summary>Independent prompts of random words; lengths fixed or drawn per request.</summary>
internal sealed class RandomWorkload(int seed, LengthRange inputWords, LengthRange outputTokens) : Workload(seed)
{
    public override string Name => "random";

    protected override IReadOnlyList<TurnPlan> CreateTurns(int conversationId, Random random) =>
        [new TurnPlan(WordText.Random(random, inputWords.Draw(random)), outputTokens.Draw(random))];
}

/// <summary>One long prefix shared by every request, then a distinct suffix: exercises prefix caching.</summary>
internal sealed class SharedPrefixWorkload : Workload
{
    private readonly string _prefix;
    private readonly LengthRange _suffixWords;
    private readonly LengthRange _outputTokens;

    public SharedPrefixWorkload(int seed, int prefixWords, LengthRange suffixWords, LengthRange outputTokens) : base(seed)
    {
        _prefix = WordText.Random(new Random(unchecked(seed ^ 0x7A3F_19C1)), prefixWords);
        _suffixWords = suffixWords;
        _outputTokens = outputTokens;
    }

    public override string Name => "shared-prefix";

    protected override IReadOnlyList<TurnPlan> CreateTurns(int conversationId, Random random) =>
        // The request number leads the suffix so no two suffixes share their first token.
        [new TurnPlan($"{_prefix}\n\nRequest {conversationId}: {WordText.Random(random, _suffixWords.Draw(random))}", _outputTokens.Draw(random))];
}

/// <summary>Conversations of several turns; each turn resends the history, so the prefix grows turn by turn.</summary>
internal sealed class MultiTurnWorkload(int seed, int turns, LengthRange inputWords, LengthRange outputTokens) : Workload(seed)
{
    public override string Name => "multi-turn";

    public override int TurnsPerConversation => turns;

    protected override IReadOnlyList<TurnPlan> CreateTurns(int conversationId, Random random) =>
        Enumerable.Range(0, turns)
            .Select(_ => new TurnPlan(WordText.Random(random, inputWords.Draw(random)), outputTokens.Draw(random)))
            .ToList();
}

/// <summary>
/// Mostly short prompts with a fraction of long ones: with chunked prefill, the long prefills should not stall
/// the token streams of the short requests (watch ITL p99).
/// </summary>
internal sealed class MixedWorkload(int seed, LengthRange shortInputWords, int longInputWords, double longFraction, LengthRange outputTokens)
    : Workload(seed)
{
    public override string Name => "mixed";

    protected override IReadOnlyList<TurnPlan> CreateTurns(int conversationId, Random random)
    {
        int words = random.NextDouble() < longFraction ? longInputWords : shortInputWords.Draw(random);
        return [new TurnPlan(WordText.Random(random, words), outputTokens.Draw(random))];
    }
}

/// <summary>Random text from a list of short common words, most of which are one token in BPE vocabularies.</summary>
internal static class WordText
{
    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "was", "for", "on", "are", "with", "as", "at", "be", "this", "have", "from",
        "or", "one", "had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
        "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other", "about", "out", "many",
        "then", "them", "these", "so", "some", "her", "would", "make", "like", "him", "into", "time", "has", "look", "two",
        "more", "write", "go", "see", "number", "no", "way", "could", "people", "my", "than", "first", "water", "been",
        "call", "who", "oil", "its", "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part",
        "over", "new", "sound", "take", "only", "little", "work", "know", "place", "year", "live", "me", "back", "give",
        "most", "very", "after", "thing", "our", "just", "name", "good", "sentence", "man", "think", "say", "great",
        "where", "help", "through", "much", "before", "line", "right", "too", "mean", "old", "any", "same", "tell", "boy",
        "follow", "came", "want", "show", "also", "around", "form", "three", "small", "set", "put", "end", "does",
        "another", "well", "large", "must", "big", "even", "such", "because", "turn", "here", "why", "ask", "went", "men",
        "read", "need", "land", "different", "home", "us", "move", "try", "kind", "hand", "picture", "again", "change",
        "off", "play", "spell", "air", "away", "animal", "house", "point", "page", "letter", "mother", "answer", "found",
        "study", "still", "learn", "should", "world", "high", "every", "near", "add", "food", "between", "own", "below",
        "country", "plant", "last", "school", "father", "keep", "tree", "never", "start", "city", "earth", "eye", "light",
    ];

    public static string Random(Random random, int wordCount)
    {
        var text = new System.Text.StringBuilder(wordCount * 6);
        for (int i = 0; i < wordCount; i++)
        {
            if (i > 0)
                text.Append(' ');
            text.Append(Words[random.Next(Words.Length)]);
        }
        return text.ToString();
    }
}
