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
    public static void Run(LLamaWeights weights, Func<bool, ModelParams> parameters, IReadOnlyList<string> texts, int tokens, int repeats)
    {
        var schedules = new[]
        {
            new Schedule("mixed-burst-512", PrefillMode.Mixed, 512, 16, 0),
            new Schedule("isolated-burst", PrefillMode.Isolated, 512, 16, 0),
            new Schedule("grouped-burst-512", PrefillMode.Grouped, 512, 16, 0),
            new Schedule("alone (1 at a time)", PrefillMode.Mixed, 512, 1, 0),
        };
        var samples = new Dictionary<(bool, string), List<RunResult>>();
        var contexts = new[] { true, false }.ToDictionary(u => u, u => weights.CreateContext(parameters(u)));
        try
        {
            var prompts = texts.Select(t => contexts[true].Tokenize(t, addBos: true, special: false)).ToList();
            for (int r = 0; r < repeats; r++)
                foreach (var unified in new[] { true, false })
                    foreach (var s in schedules)
                    {
                        var result = new Scheduler(contexts[unified], tokens, keepLogits: false).Run(prompts, s);
                        if (r == 0) continue; // warm-up
                        (samples.TryGetValue((unified, s.Name), out var list) ? list : samples[(unified, s.Name)] = []).Add(result);
                    }
            Console.WriteLine($"| KV cache | schedule | generated tok/s, median (min–max) of {repeats - 1} | decodes | generated tokens |");
            Console.WriteLine("| --- | --- | --- | --- | --- |");
            foreach (var ((unified, name), list) in samples)
            {
                var rates = list.Select(x => x.TokensPerSecond).Order().ToList();
                Console.WriteLine($"| {(unified ? "unified" : "KVUnified=false")} | {name} | {rates[rates.Count / 2]:F0} ({rates[0]:F0}–{rates[^1]:F0}) | {list[0].Decodes} | {list[0].GeneratedTokens} |");
            }
        }
        finally
        {
            foreach (var c in contexts.Values) c.Dispose();
        }
    }
}
