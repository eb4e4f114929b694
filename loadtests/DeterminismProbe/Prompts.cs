namespace DeterminismProbe;

/// <summary>
/// Distinct story openings in the characters TinyStories-656K can tokenize
/// (plain ASCII letters, digits, space and . , ! ? ' " only: the vocabulary has no byte fallback,
/// and an unknown character aborts the process inside llama.cpp).
/// </summary>
internal static class Prompts
{
    private static readonly string[] Names =
        ["Lily", "Tom", "Sara", "Ben", "Mia", "Max", "Anna", "Sam", "Lucy", "Jack", "Emma", "Tim"];

    private static readonly string[] Openings =
    [
        "Once upon a time, a little girl named {0} found a shiny red ball in the park.",
        "One day, a boy named {0} wanted to fly a big blue kite with his dad.",
        "{0} had a small dog. Every morning, the dog would bark at the birds.",
        "Once upon a time, there was a happy cat named {0} who loved to eat fish.",
    ];

    // Extra sentences that lengthen a prompt past 64 tokens, to reach the tiled attention kernel alone.
    private const string LongTail =
        " The sun was warm and the sky was blue. Mom said, \"Be careful and come home before dinner.\"" +
        " So they walked to the big tree near the pond, where the ducks were swimming. They saw a frog," +
        " a bee and a little bird. They laughed and played all day, and they were very happy together.";

    public static List<string> Create(int count, bool longPrompts)
    {
        var prompts = new List<string>(count);
        for (int i = 0; prompts.Count < count; i++)
        {
            string name = Names[i % Names.Length];
            string opening = Openings[(i / Names.Length) % Openings.Length];
            string variant = i / (Names.Length * Openings.Length) is var round && round > 0 ? $" It was day {round}." : "";
            prompts.Add(string.Format(opening, name) + variant + (longPrompts ? LongTail : ""));
        }
        return prompts;
    }
}
