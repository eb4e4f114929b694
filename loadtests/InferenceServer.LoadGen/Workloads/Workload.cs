namespace InferenceServer.LoadGen.Workloads;

/// <summary>One user turn to send: its text and how many tokens to ask for.</summary>
internal sealed record TurnPlan(string UserText, int MaxTokens);

/// <summary>
/// A conversation to drive: one turn for single-shot workloads, several for multi-turn ones.
/// Later turns resend the whole history (user turns interleaved with the answers actually received).
/// </summary>
internal sealed record ConversationPlan(int Id, IReadOnlyList<TurnPlan> Turns);

/// <summary>
/// Produces conversations. Deterministic: conversation <c>i</c> depends only on the seed and <c>i</c>,
/// so every load level of a sweep sends the same prompts in the same order.
/// </summary>
internal abstract class Workload
{
    private readonly int _seed;

    protected Workload(int seed) => _seed = seed;

    public abstract string Name { get; }

    /// <summary>Turns per conversation; a request budget of M needs ⌈M / TurnsPerConversation⌉ conversations.</summary>
    public virtual int TurnsPerConversation => 1;

    public ConversationPlan Create(int conversationId)
    {
        // One generator per conversation, derived from (seed, id), keeps prompts independent of scheduling order.
        // (Not HashCode.Combine: it is salted per process, so runs would not repeat.)
        var random = new Random(unchecked(_seed * 1_000_003 + conversationId));
        return new ConversationPlan(conversationId, CreateTurns(conversationId, random));
    }

    protected abstract IReadOnlyList<TurnPlan> CreateTurns(int conversationId, Random random);
}

/// <summary>A length that is either fixed or drawn uniformly from an inclusive range: <c>128</c> or <c>64:256</c>.</summary>
internal readonly record struct LengthRange(int Min, int Max)
{
    public static LengthRange Fixed(int value) => new(value, value);

    public static LengthRange Parse(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, out int v) && v >= 0))
            throw new FormatException($"'{text}' is not a length (examples: 128, 64:256).");
        int min = int.Parse(parts[0]);
        int max = parts.Length == 2 ? int.Parse(parts[1]) : min;
        if (max < min)
            throw new FormatException($"Range '{text}' has max below min.");
        return new LengthRange(min, max);
    }

    public int Draw(Random random) => Min == Max ? Min : random.Next(Min, Max + 1);

    public override string ToString() => Min == Max ? Min.ToString() : $"{Min}:{Max}";
}
