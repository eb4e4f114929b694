using LLama;
using LLama.Native;

namespace DeterminismProbe;

/// <summary>
/// Whether a prompt prefix shared by <c>MemorySequenceCopy</c> (a prefix cache hit) yields the same
/// greedy tokens and logits bits as prefilling the whole prompt alone, in this context's KV layout.
/// </summary>
internal static class CopyCheck
{
    public static void Run(LLamaContext context, IReadOnlyList<LLamaToken[]> prompts, int tokens)
    {
        var handle = context.NativeHandle;
        int identical = 0, sameTokens = 0, failed = 0;
        foreach (var prompt in prompts)
        {
            handle.MemoryClear();
            var alone = Generate(handle, prompt, 0, LLamaSeqId.Zero, tokens);
            foreach (int prefix in new[] { prompt.Length, prompt.Length / 2 })
            {
                handle.MemoryClear();
                var batch = new LLamaBatch();
                batch.AddRange(prompt.AsSpan(0, prefix), 0, LLamaSeqId.Zero, false);
                Check(handle.Decode(batch));
                // Copy the cached prefix into sequence 3, drop what it must recompute, then continue there.
                var target = (LLamaSeqId)3;
                handle.MemorySequenceCopy(LLamaSeqId.Zero, target, 0, -1);
                int keep = Math.Min(prefix, prompt.Length - 1);
                handle.MemorySequenceRemove(target, keep, -1);
                if (handle.MemorySequenceMaxPosition(target) != keep - 1) { failed++; continue; }
                var copied = Generate(handle, prompt, keep, target, tokens);
                if (copied.Tokens.SequenceEqual(alone.Tokens)) sameTokens++;
                if (copied.Logits.Zip(alone.Logits).All(p => p.First.AsSpan().SequenceEqual(p.Second))) identical++;
            }
        }
        Console.WriteLine($"prefix copied with MemorySequenceCopy (whole prompt minus its last token, and half the prompt), then " +
            $"the rest prefilled and {tokens} tokens generated, vs alone: same tokens {sameTokens}/{2 * prompts.Count}, " +
            $"bit-identical logits {identical}/{2 * prompts.Count}, copy not as expected {failed}");
    }

    private static (List<int> Tokens, List<float[]> Logits) Generate(SafeLLamaContextHandle handle, LLamaToken[] prompt, int from, LLamaSeqId seq, int count)
    {
        var batch = new LLamaBatch();
        batch.AddRange(prompt.AsSpan(from), from, seq, true);
        Check(handle.Decode(batch));
        var tokens = new List<int>();
        var logits = new List<float[]>();
        for (int i = 0; i < count; i++)
        {
            var row = handle.GetLogitsIth(batch.TokenCount - 1);
            int best = 0;
            for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
            tokens.Add(best);
            logits.Add(row.ToArray());
            batch.Clear();
            batch.Add(best, prompt.Length + i, seq, true);
            Check(handle.Decode(batch));
        }
        return (tokens, logits);
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"decode failed: {result}");
    }
}
