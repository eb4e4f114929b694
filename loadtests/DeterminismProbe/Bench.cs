using LLama;
using LLama.Common;
using LLama.Native;

namespace DeterminismProbe;

/// <summary>
/// Throughput of the same workload under unified and per-sequence KV caches and under mixed vs
/// isolated prefill. Runs are interleaved and repeated because the machine is shared; medians reported.
/// </summary>
internal static class Bench
{
    public static void Run(LLamaWeights weights, Func<bool, int, ModelParams> parameters, IReadOnlyList<int> ubatches, IReadOnlyList<string> texts, int tokens, int repeats, IReadOnlyList<string> only)
    {
        var schedules = new[]
        {
            new Schedule("mixed-burst-512", PrefillMode.Mixed, 512, 16, 0),
            new Schedule("isolated-burst", PrefillMode.Isolated, 512, 16, 0),
            new Schedule("grouped-burst-512", PrefillMode.Grouped, 512, 16, 0),
            new Schedule("mixed-burst-63 (chunk cap)", PrefillMode.Mixed, 63, 16, 0),
            new Schedule("alone (1 at a time)", PrefillMode.Mixed, 512, 1, 0),
        }.Where(s => only.Count == 0 || only.Any(o => s.Name.StartsWith(o, StringComparison.Ordinal))).ToArray();
        var samples = new Dictionary<(bool, int, string), List<RunResult>>();
        var kinds = new[] { true, false }.SelectMany(u => ubatches.Select(ub => (Unified: u, UBatch: ub))).ToList();
        var contexts = kinds.ToDictionary(k => k, k => weights.CreateContext(parameters(k.Unified, k.UBatch)));
        try
        {
            var prompts = texts.Select(t => contexts[kinds[0]].Tokenize(t, addBos: true, special: false)).ToList();
            for (int r = 0; r < repeats; r++)
                foreach (var kind in kinds)
                    foreach (var s in schedules)
                    {
                        var result = new Scheduler(contexts[kind], tokens, keepLogits: false).Run(prompts, s);
                        if (r == 0) continue; // warm-up
                        var key = (kind.Unified, kind.UBatch, s.Name);
                        (samples.TryGetValue(key, out var list) ? list : samples[key] = []).Add(result);
                    }
            string middle = (repeats - 1) % 2 == 1 ? "median" : "upper median";
            Console.WriteLine($"| KV cache | ubatch | schedule | generated tok/s, {middle} (min–max) of {repeats - 1} | wall s, {middle} | decodes | generated tokens |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            foreach (var ((unified, ubatch, name), list) in samples)
            {
                var rates = list.Select(x => x.TokensPerSecond).Order().ToList();
                var walls = list.Select(x => x.Elapsed.TotalSeconds).Order().ToList();
                Console.WriteLine($"| {(unified ? "unified" : "KVUnified=false")} | {ubatch} | {name} | {rates[rates.Count / 2]:F0} ({rates[0]:F0}–{rates[^1]:F0}) | {walls[walls.Count / 2]:F2} | {list[0].Decodes} | {list[0].GeneratedTokens} |");
            }
        }
        finally
        {
            foreach (var c in contexts.Values) c.Dispose();
        }
    }
}
