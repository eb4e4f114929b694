using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using DeterminismProbe;

// Usage: dotnet run -c Release --project loadtests/DeterminismProbe -- [options]
//   --model NAME|PATH   TinyStories-656K-Q8_0.gguf (default) or stories260K.gguf, found under tests/fixtures/models
//   --n 48 --tokens 48   prompts and greedy tokens per prompt
//   --fa auto,on,off     flash attention settings to try      --ubatch 512,32   UBatchSize values
//   --batch 512          BatchSize                             --long            prompts of ~100 tokens
//   --only NAME,...      run only schedules whose name starts with one of these
//   --kv-unified false   one KV stream per sequence            --threads 2       Threads and BatchThreads
//   --stop-at-eos        end a request at <|end_story|> (default: always generate --tokens tokens)
//   --micro              map which batch shapes change one sequence's logits bits
//   --copy-check         prefix shared via MemorySequenceCopy vs prefilled alone
//   --bench R            throughput, unified vs per-sequence KV, R timed repeats (+1 warm-up)
var options = Options.Parse(args);
Comparison.Verbose = Environment.GetEnvironmentVariable("PROBE_VERBOSE") == "1";
NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level >= LLamaLogLevel.Error) Console.Error.Write(message); });

string modelPath = Options.FindModel(options.Model);
Console.WriteLine($"# model {Path.GetFileName(modelPath)}, {options.Count} prompts ({(options.Long ? "long" : "short")}), {options.Tokens} greedy tokens{(options.StopAtEos ? " (stop at EOS)" : "")}, threads {options.Threads}, kv_unified {options.KVUnified}, batch {options.Batch}, {DateTime.UtcNow:u}");
Console.WriteLine();
Console.WriteLine("| FA | ubatch | schedule | reference | outputs changed | first diff at token | logits bit-identical | max abs dlogit | decodes | max batch | gen tok/s | ref tok/s |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");

if (options.Bench > 0)
{
    ModelParams Parameters(bool unified, int ubatch) => new(modelPath)
    {
        ContextSize = 4096, SeqMax = 17, BatchSize = (uint)options.Batch, UBatchSize = (uint)ubatch,
        Threads = options.Threads, BatchThreads = options.Threads, FlashAttention = options.FlashAttention[0], KVUnified = unified,
    };
    using var benchWeights = LLamaWeights.LoadFromFile(Parameters(true, options.UBatch[0]));
    Bench.Run(benchWeights, Parameters, options.UBatch, Prompts.Create(options.Count, options.Long), options.Tokens, options.Bench + 1, options.Only);
    return;
}

foreach (var fa in options.FlashAttention)
foreach (int ubatch in options.UBatch)
{
    var p = new ModelParams(modelPath)
    {
        ContextSize = 4096, SeqMax = 17, BatchSize = (uint)options.Batch, UBatchSize = (uint)ubatch,
        Threads = options.Threads, BatchThreads = options.Threads, FlashAttention = fa, KVUnified = options.KVUnified,
    };
    using var weights = LLamaWeights.LoadFromFile(p);
    using var context = weights.CreateContext(p);
    var prompts = Prompts.Create(options.Count, options.Long)
        .Select(text => context.Tokenize(text, addBos: true, special: false)).ToList();
    if (options.CopyCheck)
    {
        Console.WriteLine($"## copy check: FA {fa?.ToString() ?? "auto"}, ubatch {ubatch}, kv_unified {options.KVUnified}");
        CopyCheck.Run(context, prompts, options.Tokens);
        continue;
    }
    if (options.Micro)
    {
        Console.WriteLine($"## micro: FA {fa?.ToString() ?? "auto"}, ubatch {ubatch}");
        Micro.Run(context, prompts, 16);
        continue;
    }
    var scheduler = new Scheduler(context, options.Tokens, keepLogits: true, options.StopAtEos);
    var references = new Dictionary<(int, bool, int), RunResult>();

    foreach (var schedule in Schedules.All().Where(s => options.Only.Count == 0 || options.Only.Any(o => s.Name.StartsWith(o, StringComparison.Ordinal))))
    {
        var key = (schedule.ChunkBudget, schedule.Pad, schedule.Cap);
        if (!references.TryGetValue(key, out var reference))
        {
            // Alone = the same chunk budget with one request at a time (every mode is the same then).
            reference = scheduler.Run(prompts, new Schedule("alone", PrefillMode.Mixed, schedule.ChunkBudget, 1, 0, 0, schedule.Pad, schedule.Cap));
            references[key] = reference;
        }
        var run = scheduler.Run(prompts, schedule);
        var cmp = Comparison.Of(reference, run);
        string faName = fa switch { true => "on", false => "off", null => "auto" };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {faName} | {ubatch} | {schedule.Name} | alone, chunk {schedule.ChunkBudget}{(schedule.Pad ? " pad" : "")}{(schedule.Cap > 0 ? $" cap {schedule.Cap}" : "")} | {cmp.Changed}/{prompts.Count} | {cmp.FirstDiffs} | {cmp.LogitsIdentical}/{prompts.Count} | {cmp.MaxAbsDiff:G3} | {run.Decodes} | {run.MaxBatchTokens} | {run.TokensPerSecond:F0} | {reference.TokensPerSecond:F0} |"));
    }
}

internal static class Schedules
{
    public static IEnumerable<Schedule> All()
    {
        // 0. Alone, but with other cells occupied: no batch changes, only where the cells are.
        foreach (int n in new[] { 1, 7, 64, 200 })
            yield return new($"alone-ballast-{n}", PrefillMode.Mixed, 512, 1, 0, n);
        // 1. Each prompt prefilled in its own decode; only generation tokens batched.
        yield return new("isolated-burst", PrefillMode.Isolated, 512, 16, 0);
        yield return new("isolated-stagger", PrefillMode.Isolated, 512, 16, 3);
        // 2. A new prompt's chunk in the same decode as the others' generation tokens.
        foreach (int b in new[] { 8, 32, 63, 64, 128, 512 })
            yield return new($"mixed-stagger-{b}", PrefillMode.Mixed, b, 16, 3);
        foreach (int b in new[] { 63, 64, 512 })
            yield return new($"mixed-burst-{b}", PrefillMode.Mixed, b, 16, 0);
        // 3. Several prompts' chunks in one decode (no generation tokens in it).
        foreach (int b in new[] { 32, 63, 64, 128, 512 })
            yield return new($"grouped-burst-{b}", PrefillMode.Grouped, b, 16, 0);
        // 4. The candidate policy: every decode padded to >= 2 tokens and >= 2 logits rows, capped at 63 tokens.
        yield return new("policy-isolated-burst", PrefillMode.Isolated, 512, 16, 0, 0, true, 63);
        yield return new("policy-isolated-stagger", PrefillMode.Isolated, 512, 16, 3, 0, true, 63);
        foreach (int b in new[] { 8, 32, 63, 512 })
            yield return new($"policy-mixed-stagger-{b}", PrefillMode.Mixed, b, 16, 3, 0, true, 63);
        foreach (int b in new[] { 32, 512 })
            yield return new($"policy-mixed-burst-{b}", PrefillMode.Mixed, b, 16, 0, 0, true, 63);
        yield return new("policy-grouped-burst-512", PrefillMode.Grouped, 512, 16, 0, 0, true, 63);
    }
}

internal sealed record Comparison(int Changed, string FirstDiffs, int LogitsIdentical, double MaxAbsDiff)
{
    public static bool Verbose { get; set; }

    public static Comparison Of(RunResult reference, RunResult run)
    {
        int changed = 0, identical = 0;
        double maxDiff = 0;
        var firstDiffs = new List<int>();
        for (int r = 0; r < reference.Outputs.Length; r++)
        {
            var a = reference.Outputs[r];
            var b = run.Outputs[r];
            int n = Math.Min(a.Tokens.Count, b.Tokens.Count);
            int first = Enumerable.Range(0, n).FirstOrDefault(i => a.Tokens[i] != b.Tokens[i], a.Tokens.Count == b.Tokens.Count ? -1 : n);
            if (first >= 0) { changed++; firstDiffs.Add(first); }
            // Row k is computed from the same inputs in both runs while tokens[0..k-1] agree.
            int comparable = first >= 0 ? Math.Min(first + 1, n) : n;
            bool same = true;
            for (int k = 0; k < comparable; k++)
                for (int v = 0; v < a.Logits[k].Length; v++)
                {
                    double d = Math.Abs(a.Logits[k][v] - b.Logits[k][v]);
                    if (d > 0 || BitConverter.SingleToInt32Bits(a.Logits[k][v]) != BitConverter.SingleToInt32Bits(b.Logits[k][v])) same = false;
                    maxDiff = Math.Max(maxDiff, d);
                }
            if (same) identical++;
            if (Verbose && !same)
            {
                int k = Enumerable.Range(0, comparable).First(k => !a.Logits[k].AsSpan().SequenceEqual(b.Logits[k]));
                Console.Error.WriteLine($"  request {r}: logits first differ at token {k} (batch {a.BatchSizes[k]} alone vs {b.BatchSizes[k]}); earlier batches alone [{string.Join(",", a.BatchSizes.Take(k))}] vs [{string.Join(",", b.BatchSizes.Take(k))}]");
            }
        }
        firstDiffs.Sort();
        string diffs = firstDiffs.Count == 0 ? "-" : firstDiffs.Count <= 6 ? string.Join(",", firstDiffs) : $"min {firstDiffs[0]}, median {firstDiffs[firstDiffs.Count / 2]}";
        return new Comparison(changed, diffs, identical, maxDiff);
    }
}

internal sealed record Options(string Model, int Count, int Tokens, List<bool?> FlashAttention, List<int> UBatch, int Batch, bool Long, List<string> Only, int Threads, bool KVUnified, bool Micro, int Bench, bool StopAtEos, bool CopyCheck)
{
    public static Options Parse(string[] args)
    {
        var o = new Options("TinyStories-656K-Q8_0.gguf", 48, 48, [null], [512], 512, false, [], 2, true, false, 0, false, false);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            o = args[i] switch
            {
                "--model" => o with { Model = Next() },
                "--n" => o with { Count = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--tokens" => o with { Tokens = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--fa" => o with { FlashAttention = Next().Split(',').Select(ParseFlashAttention).ToList() },
                "--ubatch" => o with { UBatch = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList() },
                "--batch" => o with { Batch = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--long" => o with { Long = true },
                "--micro" => o with { Micro = true },
                "--copy-check" => o with { CopyCheck = true },
                "--stop-at-eos" => o with { StopAtEos = true },
                "--bench" => o with { Bench = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--threads" => o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--kv-unified" => o with { KVUnified = bool.Parse(Next()) },
                "--only" => o with { Only = Next().Split(',').ToList() },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return o;
    }

    private static bool? ParseFlashAttention(string s) => s switch
    {
        "on" => true,
        "off" => false,
        "auto" => null,
        _ => throw new ArgumentException($"--fa takes auto, on or off, not {s}"),
    };

    /// <summary>A path as given, else the file under the repository's tests/fixtures/models, found walking up from here.</summary>
    public static string FindModel(string model)
    {
        if (File.Exists(model)) return Path.GetFullPath(model);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "models", model);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"model {model} not found under any tests/fixtures/models above {AppContext.BaseDirectory}");
    }
}
