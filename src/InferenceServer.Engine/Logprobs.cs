namespace InferenceServer.Engine;

/// <summary>One candidate token and its log probability.</summary>
public readonly record struct TokenAlternative(int Token, float Logprob);

/// <summary>
/// A token's log probability under the model's raw next-token distribution (a softmax of the logits, before
/// logit bias, penalties, truncation, temperature or grammar), with the most likely alternatives, best first.
/// </summary>
public sealed record TokenLogprob(int Token, float Logprob, IReadOnlyList<TokenAlternative> Top)
{
    /// <summary>The log-softmax of <paramref name="logits"/> at <paramref name="token"/>, and its <paramref name="top"/> most likely tokens.</summary>
    public static TokenLogprob Of(ReadOnlySpan<float> logits, int token, int top)
    {
        var max = float.NegativeInfinity;
        foreach (var logit in logits) max = Math.Max(max, logit);
        // Summed in double: 150k exponentials in float lose the small terms.
        var sum = 0.0;
        foreach (var logit in logits) sum += Math.Exp(logit - max);
        var normaliser = max + Math.Log(sum);

        // Partial selection: the `top` largest logits, kept sorted (top ≤ 20, so insertion beats a heap).
        var best = new List<TokenAlternative>(top + 1);
        for (var i = 0; i < logits.Length && top > 0; i++)
        {
            if (best.Count == top && logits[i] <= best[^1].Logprob) continue;
            var at = best.Count;
            while (at > 0 && best[at - 1].Logprob < logits[i]) at--;
            best.Insert(at, new TokenAlternative(i, logits[i]));
            if (best.Count > top) best.RemoveAt(top);
        }
        for (var i = 0; i < best.Count; i++) best[i] = best[i] with { Logprob = (float)(best[i].Logprob - normaliser) };
        return new TokenLogprob(token, (float)(logits[token] - normaliser), best);
    }
}
