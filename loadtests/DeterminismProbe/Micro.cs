using LLama;
using LLama.Native;

namespace DeterminismProbe;

/// <summary>
/// Maps which batch shapes change one sequence's logits bits: sequence 0's next-token logits are
/// computed in batches of n generation tokens (itself at row r) and, separately, beside a prompt chunk
/// of c tokens of another sequence; every decode is rolled back before the next. Identical logits
/// share a class letter; class A is sequence 0 decoded alone.
/// </summary>
internal static class Micro
{
    public static void Run(LLamaContext context, IReadOnlyList<LLamaToken[]> prompts, int seqs)
    {
        var classes = new List<float[]>();
        foreach (int ballast in new[] { 0, 1, 5, 64, 300 })
            Run(context, prompts, seqs, classes, ballast);
    }

    private static void Run(LLamaContext context, IReadOnlyList<LLamaToken[]> prompts, int seqs, List<float[]> classes, int ballast)
    {
        var handle = context.NativeHandle;
        handle.MemoryClear();
        var batch = new LLamaBatch();
        // Ballast (sequence 40) moves every other sequence's cells up by this many.
        for (int i = 0; i < ballast; i++) batch.Add(prompts[0][i % prompts[0].Length], i, (LLamaSeqId)40, false);
        if (ballast > 0) Decode(handle, batch);
        Console.WriteLine($"### ballast {ballast} cells before the sequences");
        for (int s = 0; s < seqs; s++)
        {
            batch.AddRange(prompts[s], 0, (LLamaSeqId)s, false);
            Decode(handle, batch);
        }
        char ClassOf(float[] logits)
        {
            int i = classes.FindIndex(c => c.AsSpan().SequenceEqual(logits));
            if (i < 0) { classes.Add(logits); i = classes.Count - 1; }
            return i < 26 ? (char)('A' + i) : (char)('a' + i - 26);
        }

        float[] DecodeTarget(int n, int row, int chunk, bool chunkFirst)
        {
            int targetRow = -1;
            if (chunkFirst) AddChunk(chunk);
            for (int k = 0; k < n; k++)
            {
                int s = k == row ? 0 : (k < row ? k + 1 : k);
                int r = batch.Add(prompts[s][0], prompts[s].Length, (LLamaSeqId)s, true);
                if (k == row) targetRow = r;
            }
            if (!chunkFirst) AddChunk(chunk);
            Decode(handle, batch);
            var logits = handle.GetLogitsIth(targetRow).ToArray();
            for (int s = 0; s < seqs; s++) handle.MemorySequenceRemove((LLamaSeqId)s, prompts[s].Length, -1);
            handle.MemorySequenceRemove((LLamaSeqId)seqs, 0, -1);
            return logits;
        }

        void AddChunk(int chunk)
        {
            for (int i = 0; i < chunk; i++) batch.Add(prompts[seqs][i % prompts[seqs].Length], i, (LLamaSeqId)seqs, false);
        }

        Console.WriteLine($"sequence 0's logits class by generation batch size n (rows) and its row r (columns); A = alone");
        ClassOf(DecodeTarget(1, 0, 0, false));
        for (int n = 1; n <= (ballast == 0 ? seqs : 3); n++)
        {
            var line = new System.Text.StringBuilder($"n={n,2}: ");
            for (int r = 0; r < n; r++) line.Append(ClassOf(DecodeTarget(n, r, 0, false)));
            Console.WriteLine(line);
        }
        if (ballast > 0) return;
        Console.WriteLine("sequence 0 alone + a prompt chunk of c tokens of another sequence (after | before it in the batch):");
        foreach (int c in new[] { 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 47, 48, 62, 63, 64, 65, 100, 128, 200, 256, 400 })
            Console.WriteLine($"c={c,3}: {ClassOf(DecodeTarget(1, 0, c, false))} | {ClassOf(DecodeTarget(1, 0, c, true))}");
        Console.WriteLine("sequence 0 at row 0 of n=4 and n=16 generation rows + a chunk of c tokens after them:");
        foreach (int c in new[] { 1, 4, 16, 32, 44, 47, 48, 60, 64, 128 })
            Console.WriteLine($"c={c,3}: n=4 {ClassOf(DecodeTarget(4, 0, c, false))}  n=16 {ClassOf(DecodeTarget(seqs, 0, c, false))}");
    }

    private static void Decode(SafeLLamaContextHandle handle, LLamaBatch batch)
    {
        if (handle.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("decode failed");
        batch.Clear();
    }
}
