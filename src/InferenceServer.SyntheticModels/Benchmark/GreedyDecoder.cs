using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text;
using LLama;
using LLama.Native;

namespace InferenceServer.SyntheticModels.Benchmark;

/// <summary>
/// Generation-phase throughput: <see cref="Streams"/> sequences decoded together, <see cref="TokensPerStream"/> steps.
/// <see cref="ProcessorTime"/> is the process's CPU time over the same steps: on a shared machine, tokens per
/// CPU-second with one thread estimates what an idle core would do (with more threads it counts spinning too).
/// <see cref="Prefill"/> is the first stream's prompt (<see cref="PromptTokens"/> tokens) decoded alone, up to its first token;
/// <see cref="PrefillAll"/> every stream's, the others' together in batches of up to 512 tokens.
/// </summary>
internal sealed record DecodeThroughput(int Streams, int TokensPerStream, TimeSpan Elapsed, TimeSpan ProcessorTime, int PromptTokens, TimeSpan Prefill, TimeSpan PrefillAll)
{
    public double TokensPerSecond => Streams * TokensPerStream / Elapsed.TotalSeconds;

    /// <summary>Output tokens per second of the whole requests: every prompt prefilled, then the generation steps.</summary>
    public double TokensPerSecondWithPrefill => Streams * TokensPerStream / (PrefillAll + Elapsed).TotalSeconds;

    public double TokensPerProcessorSecond => Streams * TokensPerStream / ProcessorTime.TotalSeconds;
}

/// <summary>
/// Greedy (argmax) decoding on raw <see cref="LLamaBatch"/>es: one sequence for checks, many for throughput.
/// Each prompt is prefilled in its own decode; generation steps of all streams share one decode.
/// </summary>
internal static class GreedyDecoder
{
    public static IReadOnlyList<int> Generate(LLamaWeights weights, LLamaContext context, string prompt, int tokenCount)
    {
        context.NativeHandle.MemoryClear();
        var promptTokens = weights.Tokenize(prompt, true, false, Encoding.UTF8);
        var batch = new LLamaBatch();
        batch.AddRange(promptTokens, 0, LLamaSeqId.Zero, true);
        var token = DecodeAndPick(context, batch, batch.TokenCount - 1);
        var generated = new List<int> { (int)token };
        for (var position = promptTokens.Length; generated.Count < tokenCount; position++)
        {
            batch.Clear();
            var row = batch.Add(token, position, LLamaSeqId.Zero, true);
            token = DecodeAndPick(context, batch, row);
            generated.Add((int)token);
        }

        return generated;
    }

    /// <summary>Times <paramref name="tokensPerStream"/> generation steps of <paramref name="streams"/> sequences, and apart from them their prompts' prefill.</summary>
    public static DecodeThroughput MeasureThroughput(LLamaContext context, int streams, int tokensPerStream, LLamaToken[] promptTokens)
    {
        const int batchLimit = 512;
        context.NativeHandle.MemoryClear();
        var batch = new LLamaBatch();
        var next = new LLamaToken[streams];
        var started = Stopwatch.GetTimestamp();
        batch.AddRange(promptTokens, 0, LLamaSeqId.Zero, true);
        next[0] = DecodeAndPick(context, batch, batch.TokenCount - 1);
        var prefill = Stopwatch.GetElapsedTime(started);
        for (var first = 1; first < streams;)
        {
            batch.Clear();
            var lastRows = new List<(int Stream, int Row)>();
            for (; first < streams && (lastRows.Count == 0 || batch.TokenCount + promptTokens.Length <= batchLimit); first++)
            {
                for (var i = 0; i < promptTokens.Length; i++) batch.Add(promptTokens[i], i, (LLamaSeqId)first, i == promptTokens.Length - 1);
                lastRows.Add((first, batch.TokenCount - 1));
            }
            Decode(context, batch);
            foreach (var (stream, row) in lastRows) next[stream] = ArgMax(context.NativeHandle.GetLogitsIth(row));
        }
        var prefillAll = Stopwatch.GetElapsedTime(started);

        var rows = new int[streams];
        var process = Process.GetCurrentProcess();
        var processorTimeBefore = process.TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        for (var step = 0; step < tokensPerStream; step++)
        {
            batch.Clear();
            for (var stream = 0; stream < streams; stream++)
            {
                rows[stream] = batch.Add(next[stream], promptTokens.Length + step, (LLamaSeqId)stream, true);
            }

            Decode(context, batch);
            for (var stream = 0; stream < streams; stream++)
            {
                next[stream] = ArgMax(context.NativeHandle.GetLogitsIth(rows[stream]));
            }
        }

        var elapsed = stopwatch.Elapsed;
        process.Refresh();
        return new DecodeThroughput(streams, tokensPerStream, elapsed, process.TotalProcessorTime - processorTimeBefore, promptTokens.Length, prefill, prefillAll);
    }

    private static LLamaToken DecodeAndPick(LLamaContext context, LLamaBatch batch, int row)
    {
        Decode(context, batch);
        return ArgMax(context.NativeHandle.GetLogitsIth(row));
    }

    private static void Decode(LLamaContext context, LLamaBatch batch)
    {
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama_decode returned {result}.");
        }
    }

    private static LLamaToken ArgMax(ReadOnlySpan<float> logits) => (LLamaToken)TensorPrimitives.IndexOfMax(logits);
}
