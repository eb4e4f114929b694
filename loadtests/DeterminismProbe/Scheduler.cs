using System.Diagnostics;
using LLama;
using LLama.Native;

namespace DeterminismProbe;

/// <summary>How prompt prefill shares decodes with the generation tokens of running sequences.</summary>
internal enum PrefillMode
{
    /// <summary>One decode per step: every running sequence's next token plus prompt chunks (llama-server's way).</summary>
    Mixed,
    /// <summary>Prompt chunks of several sequences in one decode; generation tokens in a second decode.</summary>
    Grouped,
    /// <summary>Each sequence's prompt chunk in a decode of its own; generation tokens in another decode.</summary>
    Isolated,
}

/// <param name="Mode">how prefill is placed into decodes.</param>
/// <param name="ChunkBudget">most prompt tokens per step, summed over sequences (generation tokens not counted).</param>
/// <param name="Concurrency">most sequences admitted at once (1 = "alone").</param>
/// <param name="ArrivalEvery">a request arrives every this many steps (0 = all at once).</param>
/// <param name="Ballast">tokens of an idle sequence (id 15) that occupy the first cache cells, moving every
/// request's cells up and widening the attended cell range without changing any batch.</param>
/// <param name="Pad">add one throw-away token that asks for logits (sequence 16; the context has SeqMax 17) to every decode, so no decode
/// has fewer than 2 tokens and no decode that yields logits has fewer than 2 logits rows.</param>
/// <param name="Cap">most tokens per decode, pad included (0 = no cap beyond the chunk budget).</param>
internal sealed record Schedule(string Name, PrefillMode Mode, int ChunkBudget, int Concurrency, int ArrivalEvery, int Ballast = 0, bool Pad = false, int Cap = 0);

/// <summary>One request's greedy output and the logits row behind each token.</summary>
internal sealed record RequestOutput(List<int> Tokens, List<float[]> Logits, List<int> BatchSizes);

internal sealed record RunResult(RequestOutput[] Outputs, int Decodes, int GeneratedTokens, TimeSpan Elapsed, int MaxBatchTokens)
{
    public double TokensPerSecond => GeneratedTokens / Elapsed.TotalSeconds;
}

/// <summary>
/// Runs prompts through one context the way a continuous-batching server would, greedy (argmax),
/// recording every logits row. Unless stopAtEos, each request generates exactly maxTokens tokens (the
/// model starts a new story after its end-of-story token), so every request compares maxTokens rows. Sequence ids are reused slots 0..Concurrency-1; the cache is cleared
/// whenever no sequence is active, so "alone" runs always start from cell 0.
/// </summary>
internal sealed class Scheduler(LLamaContext context, int maxTokens, bool keepLogits, bool stopAtEos = false)
{
    private sealed class Slot(int request, LLamaSeqId seq, LLamaToken[] prompt)
    {
        public int Request { get; } = request;
        public LLamaSeqId Seq { get; } = seq;
        public LLamaToken[] Prompt { get; } = prompt;
        public int Prefilled { get; set; }
        public List<int> Tokens { get; } = [];
        public List<float[]> Logits { get; } = [];
        public List<int> BatchSizes { get; } = [];
        public bool Generating => Prefilled == Prompt.Length;
    }

    private static readonly LLamaSeqId PadSeq = (LLamaSeqId)16;
    private readonly int _eos = stopAtEos && context.Vocab.EOS is { } eos ? (int)eos : -1;

    public RunResult Run(IReadOnlyList<LLamaToken[]> prompts, Schedule schedule)
    {
        context.NativeHandle.MemoryClear();
        var outputs = new RequestOutput[prompts.Count];
        var active = new List<Slot>();
        var freeSeqs = new Stack<int>(Enumerable.Range(0, schedule.Concurrency).Reverse());
        int next = 0, step = 0, decodes = 0, generated = 0, maxBatch = 0;
        var batch = new LLamaBatch();
        var rows = new List<(Slot Slot, int Row)>();
        var watch = Stopwatch.StartNew();

        void DecodeAndSample()
        {
            if (batch.TokenCount == 0) return;
            maxBatch = Math.Max(maxBatch, batch.TokenCount);
            var result = context.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"decode failed: {result}");
            decodes++;
            foreach (var (slot, row) in rows)
            {
                var logits = context.NativeHandle.GetLogitsIth(row);
                int best = 0;
                for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                slot.Tokens.Add(best);
                slot.BatchSizes.Add(batch.TokenCount);
                if (keepLogits) slot.Logits.Add(logits.ToArray());
                generated++;
            }
            batch.Clear();
            rows.Clear();
            if (schedule.Pad) context.NativeHandle.MemorySequenceRemove(PadSeq, 0, -1);
        }

        // The pad, when asked for, is the batch's first row: the F32 model's first logits row of a multi-row
        // batch rounds differently (see docs/determinism.md), so no real sequence may sit there.
        int Add(LLamaToken token, int pos, LLamaSeqId seq, bool logits)
        {
            if (schedule.Pad && batch.TokenCount == 0) batch.Add(prompts[0][0], 0, PadSeq, true);
            return batch.Add(token, pos, seq, logits);
        }

        void AddGenerationTokens()
        {
            foreach (var s in active.Where(s => s.Generating))
                rows.Add((s, Add(s.Tokens[^1], s.Prompt.Length + s.Tokens.Count - 1, s.Seq, true)));
        }

        // Adds prompt chunks up to the budget; with isolate, decodes after each sequence's chunk.
        void AddPrefillChunks(bool isolate)
        {
            int budget = schedule.ChunkBudget;
            foreach (var s in active.Where(s => !s.Generating))
            {
                int pad = schedule.Pad && batch.TokenCount == 0 ? 1 : 0;
                // More tokens than BatchSize in one decode is a native assert that kills the process.
                budget = Math.Min(budget, (int)context.BatchSize - batch.TokenCount - pad);
                if (schedule.Cap > 0) budget = Math.Min(budget, schedule.Cap - batch.TokenCount - pad);
                if (budget <= 0) break;
                int n = Math.Min(budget, s.Prompt.Length - s.Prefilled);
                for (int i = 0; i < n; i++)
                {
                    int pos = s.Prefilled + i;
                    bool last = pos == s.Prompt.Length - 1;
                    int row = Add(s.Prompt[pos], pos, s.Seq, last);
                    if (last) rows.Add((s, row));
                }
                s.Prefilled += n;
                budget -= n;
                if (isolate) DecodeAndSample();
            }
        }

        var ballastSeq = (LLamaSeqId)15;
        void ClearCache()
        {
            context.NativeHandle.MemoryClear();
            if (schedule.Ballast == 0) return;
            for (int i = 0; i < schedule.Ballast; i++) batch.Add(prompts[0][i % prompts[0].Length], i, ballastSeq, false);
            if (context.NativeHandle.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("ballast decode failed");
            batch.Clear();
        }
        if (schedule.Ballast > 0 && schedule.Concurrency > 15) throw new ArgumentException("the ballast takes sequence id 15");

        while (next < prompts.Count || active.Count > 0)
        {
            if (active.Count == 0)
            {
                ClearCache();
                if (schedule.ArrivalEvery > 0) step = Math.Max(step, next * schedule.ArrivalEvery);
            }
            while (next < prompts.Count && freeSeqs.Count > 0 &&
                   (schedule.ArrivalEvery == 0 || next * schedule.ArrivalEvery <= step))
            {
                active.Add(new Slot(next, (LLamaSeqId)freeSeqs.Pop(), prompts[next]));
                next++;
            }

            switch (schedule.Mode)
            {
                case PrefillMode.Mixed:
                    AddGenerationTokens();
                    AddPrefillChunks(isolate: false);
                    DecodeAndSample();
                    break;
                case PrefillMode.Grouped:
                    AddPrefillChunks(isolate: false);
                    DecodeAndSample();
                    AddGenerationTokens();
                    DecodeAndSample();
                    break;
                case PrefillMode.Isolated:
                    AddPrefillChunks(isolate: true);
                    AddGenerationTokens();
                    DecodeAndSample();
                    break;
            }
            // A sequence whose prefill finished this step sampled its first token above; generation
            // tokens added in Grouped/Isolated modes belong to sequences that were already generating.

            foreach (var s in active.Where(s => s.Tokens.Count >= maxTokens || (s.Tokens.Count > 0 && s.Tokens[^1] == _eos)).ToList())
            {
                outputs[s.Request] = new RequestOutput(s.Tokens, s.Logits, s.BatchSizes);
                context.NativeHandle.MemorySequenceRemove(s.Seq, 0, -1);
                freeSeqs.Push((int)s.Seq);
                active.Remove(s);
            }
            step++;
        }
        return new RunResult(outputs, decodes, generated, watch.Elapsed, maxBatch);
    }
}
