using System.Globalization;
using System.Text;
using InferenceServer.Llama;
using InferenceServer.SyntheticModels;
using InferenceServer.SyntheticModels.Benchmark;
using InferenceServer.SyntheticModels.Gguf;
using InferenceServer.SyntheticModels.Llama;
using InferenceServer.SyntheticModels.Terminal;
using LLama;
using LLama.Common;
using LLama.Native;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

const string Usage = """
    synthmodel — llama-architecture GGUF models with random weights, for benchmarks and tests.

    synthmodel write  --shape tiny|25m|100m|125m|500m|1b -o model.gguf [--quant F32|F16|Q8_0|Q4_0|Q4_K]
                      [--seed 1] [--std 0.02] [--n-embd N] [--layers N] [--heads N] [--kv-heads N] [--ffn N]
                      [--ctx N] [--vocab vocab.gguf] [--threads N]
    synthmodel lora   --base model.gguf -o adapter.gguf [--rank 8] [--alpha 16] [--targets attn_q,attn_v] [--seed 1] [--std 0.02]
    synthmodel bench  --model model.gguf [--streams 1,16] [--tokens 64] [--threads 2] [--lora adapter.gguf] [--lora-scale 1]
                      [--cache-type-k f16] [--cache-type-v f16] [--prompt-tokens N] [--repeat N] [--native-lib-dir DIR]
    synthmodel shapes                 list the named shapes with parameter counts
    synthmodel inspect file.gguf      print a GGUF's metadata and tensors

    'write' is the default command. --vocab defaults to tests/fixtures/vocab/ggml-vocab-llama-spm.gguf in the
    nearest ancestor directory; its tokenizer.* metadata is copied and a ChatML chat template added.
    Q4_K is llama.cpp's Q4_K_M mix. Quantised files are written as F16 first, then quantised.
    """;

try
{
    if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    {
        Console.WriteLine(Usage);
        return 0;
    }

    var command = args[0].StartsWith('-') ? "write" : args[0];
    var line = new CommandLine(args[0].StartsWith('-') ? args : args[1..]);
    return command switch
    {
        "write" => Commands.Write(line),
        "lora" => Commands.Lora(line),
        "bench" => Commands.Bench(line),
        "shapes" => Commands.Shapes(line),
        "inspect" => Commands.Inspect(line),
        _ => throw new UsageException($"Unknown command '{command}'."),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(Usage);
    return 2;
}
catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException or LLama.Exceptions.RuntimeError)
{
    Console.Error.WriteLine($"synthmodel: {e.Message}");
    return 1;
}

internal static class Commands
{
    public static int Write(CommandLine line)
    {
        var output = line.RequiredString("output");
        var shape = ShapeFrom(line);
        var format = ParseFormat(line.String("quant") ?? "F32");
        var seed = line.UInt64("seed") ?? 1;
        var std = line.Float("std") ?? 0.02f;
        var threads = line.Int("threads") ?? Environment.ProcessorCount;
        var vocabularyPath = line.String("vocab") ?? Vocabulary.FindDefault()
            ?? throw new UsageException($"No --vocab given and no tests/fixtures/vocab/{Vocabulary.DefaultFileName} found above {AppContext.BaseDirectory}.");
        line.RejectUnknown();

        QuietNativeLog();
        var vocabulary = Vocabulary.Load(vocabularyPath);
        Console.WriteLine($"{shape.Name}: n_embd {shape.EmbeddingLength}, {shape.BlockCount} layers, {shape.HeadCount} heads / {shape.KvHeadCount} KV, " +
            $"FFN {shape.FeedForwardLength}, ctx {shape.ContextLength}, vocab {vocabulary.Size}: {shape.ParameterCount(vocabulary.Size):N0} parameters");

        var report = ProgressDisplay.Run($"writing {Path.GetFileName(output)}", progress =>
            SyntheticModelBuilder.Build(output, shape, seed, format, vocabulary, threads, std, progress.Report,
                quantize => progress.RunStep($"quantising to {format} (llama.cpp)", quantize)));

        Console.WriteLine($"wrote {output}: {report.FileBytes:N0} bytes ({report.FileBytes / 1048576.0:F1} MiB), random weights in {report.WriteTime.TotalSeconds:F1} s" +
            (report.QuantizeTime > TimeSpan.Zero ? $", quantised in {report.QuantizeTime.TotalSeconds:F1} s" : ""));
        Console.WriteLine("tensor types: " + string.Join(", ", report.TensorTypes.Select(kv => $"{kv.Key} x{kv.Value}")));
        return 0;
    }

    public static int Lora(CommandLine line)
    {
        var basePath = line.RequiredString("base");
        var output = line.RequiredString("output");
        var options = new LoraAdapterOptions(
            line.Int("rank") ?? 8,
            line.Float("alpha") ?? 16f,
            line.List("targets") ?? ["attn_q", "attn_v"],
            line.UInt64("seed") ?? 1,
            line.Float("std") ?? 0.02f);
        line.RejectUnknown();

        var bytes = LoraAdapterWriter.Write(output, basePath, options);
        Console.WriteLine($"wrote {output}: rank {options.Rank}, alpha {options.Alpha}, targets {string.Join(",", options.Targets)}, {bytes:N0} tensor bytes");
        return 0;
    }

    private static KvCacheType KvType(CommandLine line, string option) =>
        line.String(option) is { } name
            ? KvCacheType.Parse(name) ?? throw new ArgumentException($"--{option} {name}: use one of {string.Join(", ", KvCacheType.All.Select(t => t.Name))}.")
            : KvCacheType.F16;

    public static int Bench(CommandLine line)
    {
        var modelPath = line.RequiredString("model");
        var streams = (line.List("streams") ?? ["1", "16"]).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var tokens = line.Int("tokens") ?? 64;
        var threads = line.Int("threads") ?? 2;
        var loraPath = line.String("lora");
        var loraScale = line.Float("lora-scale") ?? 1f;
        var keyType = KvType(line, "cache-type-k");
        var valueType = KvType(line, "cache-type-v");
        var promptLength = line.Int("prompt-tokens");
        var nativeLibDir = line.String("native-lib-dir");
        var repeat = line.Int("repeat") ?? 1;
        line.RejectUnknown();
        if (repeat < 1) throw new ArgumentException($"--repeat {repeat}: use 1 or more.");
        // A prompt goes in one decode, and llama.cpp aborts the process on a batch larger than its 512.
        if (promptLength is < 1 or > 512) throw new ArgumentException($"--prompt-tokens {promptLength}: use 1 to 512.");

        // The same llama.cpp build as a server started with --native-lib-dir, for its ceiling (loadtests/gpu/device-run.sh).
        if (nativeLibDir is not null) NativeLibraries.LoadFrom(nativeLibDir);
        QuietNativeLog();
        const string prompt = "Once upon a time, in a small village by the sea, there lived";
        var parameters = new ModelParams(modelPath)
        {
            ContextSize = (uint)Math.Max(512, streams.Max() * (tokens + Math.Max(32, promptLength ?? 0))),
            SeqMax = (uint)streams.Max(),
            BatchSize = 512,
            UBatchSize = 512,
            Threads = threads,
            BatchThreads = threads,
            TypeK = keyType.Native,
            TypeV = valueType.Native,
            FlashAttention = valueType.IsQuantized ? true : null,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        if (loraPath is not null)
        {
            var adapter = LoraAdapterLoader.Load(weights, loraPath);
            context.NativeHandle.SetLoraAdapters([(adapter, loraScale)]);
        }

        // --prompt-tokens: the sentence's tokens repeated to that length (a server row's prompts, for its ceiling with prefill).
        var sentence = weights.Tokenize(prompt, true, false, Encoding.UTF8);
        var promptTokens = promptLength is { } length
            ? Enumerable.Range(0, length).Select(i => i < sentence.Length ? sentence[i] : sentence[1 + (i - 1) % (sentence.Length - 1)]).ToArray()
            : sentence;
        GreedyDecoder.MeasureThroughput(context, 1, 4, promptTokens); // warm-up
        foreach (var count in streams)
        {
            // A short run (TinyStories' 16 x 128 tokens take 0.3 s) catches a quiet or a busy moment of a shared machine:
            // with --repeat the median run is the one reported.
            var runs = Enumerable.Range(0, repeat).Select(_ => GreedyDecoder.MeasureThroughput(context, count, tokens, promptTokens))
                .OrderBy(r => r.TokensPerSecond).ToList();
            var result = runs[(runs.Count - 1) / 2];
            Console.WriteLine($"{Path.GetFileName(modelPath)}: {count} stream(s) x {tokens} tokens, {threads} threads: " +
                $"{result.TokensPerSecond:F1} tokens/s ({result.Elapsed.TotalSeconds:F2} s), {result.TokensPerProcessorSecond:F1} tokens per CPU-second, " +
                $"prefill of {result.PromptTokens} tokens {result.Prefill.TotalMilliseconds:F1} ms; " +
                $"with every prompt's prefill ({result.PrefillAll.TotalMilliseconds:F1} ms) {result.TokensPerSecondWithPrefill:F1} tokens/s");
            if (repeat > 1)
                Console.WriteLine($"  the median of {repeat} runs; they ranged from {runs[0].TokensPerSecond:F1} to {runs[^1].TokensPerSecond:F1} tokens/s");
        }

        return 0;
    }

    public static int Shapes(CommandLine line)
    {
        var vocabularyPath = line.String("vocab") ?? Vocabulary.FindDefault();
        line.RejectUnknown();
        var vocabularySize = vocabularyPath is null ? 32000 : Vocabulary.Load(vocabularyPath).Size;
        Console.WriteLine($"{"name",-6} {"n_embd",6} {"layers",6} {"heads",5} {"kv",3} {"ffn",5} {"ctx",5} {"parameters (vocab " + vocabularySize + ")",24}");
        foreach (var s in ModelShape.Named)
        {
            Console.WriteLine($"{s.Name,-6} {s.EmbeddingLength,6} {s.BlockCount,6} {s.HeadCount,5} {s.KvHeadCount,3} {s.FeedForwardLength,5} {s.ContextLength,5} {s.ParameterCount(vocabularySize),24:N0}");
        }

        return 0;
    }

    public static int Inspect(CommandLine line)
    {
        line.RejectUnknown();
        if (line.Positional.Count != 1)
        {
            throw new UsageException("inspect takes one GGUF file.");
        }

        var file = GgufReader.Read(line.Positional[0]);
        Console.WriteLine($"GGUF v{file.Version}, {file.Metadata.Count} metadata keys, {file.Tensors.Count} tensors, data at {file.DataOffset}");
        foreach (var (key, value) in file.Metadata)
        {
            Console.WriteLine($"  {key} = {value}");
        }

        foreach (var tensor in file.Tensors)
        {
            Console.WriteLine($"  {tensor.Name} [{string.Join(", ", tensor.Dimensions)}] {tensor.Type} @ {tensor.Offset}");
        }

        return 0;
    }

    private static ModelShape ShapeFrom(CommandLine line)
    {
        var name = line.String("shape") ?? "tiny";
        var shape = ModelShape.Find(name)
            ?? throw new UsageException($"Unknown shape '{name}'; choose from {string.Join(", ", ModelShape.Named.Select(s => s.Name))}.");
        var custom = shape with
        {
            EmbeddingLength = line.Int("n-embd") ?? shape.EmbeddingLength,
            BlockCount = line.Int("layers") ?? shape.BlockCount,
            HeadCount = line.Int("heads") ?? shape.HeadCount,
            KvHeadCount = line.Int("kv-heads") ?? shape.KvHeadCount,
            FeedForwardLength = line.Int("ffn") ?? shape.FeedForwardLength,
            ContextLength = line.Int("ctx") ?? shape.ContextLength,
        };
        custom = custom == shape ? shape : custom with { Name = shape.Name + "-custom" };
        try
        {
            custom.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        return custom;
    }

    private static WeightFormat ParseFormat(string text) =>
        Enum.TryParse<WeightFormat>(text, ignoreCase: true, out var format) && Enum.IsDefined(format)
            ? format
            : throw new UsageException($"Unknown --quant '{text}'; choose from {string.Join(", ", Enum.GetNames<WeightFormat>())}.");

    /// <summary>llama.cpp logs every tensor while loading and quantising; keep warnings and errors only.</summary>
    private static void QuietNativeLog() =>
        NativeLogConfig.llama_log_set((level, message) =>
        {
            if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
            {
                Console.Error.Write(message);
            }
        });
}
