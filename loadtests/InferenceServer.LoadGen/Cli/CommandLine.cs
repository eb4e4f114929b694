using System.Globalization;
using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Workloads;

namespace InferenceServer.LoadGen.Cli;

/// <summary>Parses <c>--name value</c> / <c>--name=value</c> arguments into <see cref="LoadGenOptions"/>.</summary>
internal static class CommandLine
{
    public const string Usage = """
        loadgen: streaming load generator for OpenAI-compatible servers (loopback only unless --allow-remote).

        Target
          --base-url URL          API root (default http://127.0.0.1:8080/v1)
          --api-key KEY           sent as 'Authorization: Bearer KEY'
          --model NAME[,NAME..]   model id (default: first id from GET {base-url}/models); several: conversation i uses the (i mod n)-th
          --endpoint chat|completions   API to drive (default chat)
          --timeout DUR           per-request limit (default 5m)
          --allow-remote          permit a non-loopback host

        Workload (lengths: N or MIN:MAX drawn uniformly; input in words ≈ tokens)
          --workload random|shared-prefix|multi-turn|mixed   (default random)
          --input-len LEN         prompt / suffix / per-turn words (default 128)
          --output-len LEN        max_tokens (default 64)
          --prefix-len N          shared-prefix: words in the shared prefix (default 512)
          --turns K               multi-turn: turns per conversation (default 4)
          --long-input-len N      mixed: words in a long prompt (default 2048)
          --long-fraction F       mixed: share of long prompts (default 0.25)
          --no-ignore-eos         do not send ignore_eos: true
          --seed N                prompts and arrivals (default 0)

        Load (each level stops after --requests or --duration, whichever first)
          --concurrency LIST      closed loop, e.g. 1,2,4,8,16 runs each level in turn (default 1)
          --request-rate LIST     open loop, Poisson arrivals per second, e.g. 2,4,inf
          --burstiness B          gamma shape of arrival gaps (1 = Poisson; default 1)
          --max-concurrency N     open loop: cap on requests in flight
          --requests M            requests per level (default 64)
          --duration DUR          time cap per level (default 10m)
          --warmup N              unmeasured requests, one at a time, before the first level (default 1)

        Report
          --slo METRIC:LIMIT      repeatable; ttft, tpot or e2el, e.g. --slo ttft:500ms --slo tpot:50ms
          --out FILE              JSON results
          --markdown FILE         append a Markdown section (command, date, machine, table)
          --charts DIR            PNG charts: throughput and latency percentiles vs level
          --no-progress           no progress bar (also off when output is not a terminal)
          --help
        """;

    public static LoadGenOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadGenOptions();
        var slos = new List<Slo>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? inlineValue = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }

            string Value()
            {
                if (inlineValue is not null)
                    return inlineValue;
                if (i + 1 >= args.Count)
                    throw new UsageException($"{name} needs a value.");
                return args[++i];
            }

            try
            {
                options = name switch
                {
                    "--help" or "-h" => options with { ShowHelp = true },
                    "--base-url" => options with { BaseUrl = ParseBaseUrl(Value()) },
                    "--api-key" => options with { ApiKey = Value() },
                    "--model" => options with { Model = Value() },
                    "--endpoint" => options with { Endpoint = ParseEndpoint(Value()) },
                    "--timeout" => options with { RequestTimeout = Positive(DurationText.Parse(Value(), TimeSpan.FromSeconds(1)), name) },
                    "--allow-remote" => options with { AllowRemote = true },
                    "--workload" => options with { Workload = ParseWorkload(Value()) },
                    "--input-len" => options with { InputWords = LengthRange.Parse(Value()) },
                    "--output-len" => options with { OutputTokens = PositiveRange(LengthRange.Parse(Value()), name) },
                    "--prefix-len" => options with { PrefixWords = NonNegativeInt(Value(), name) },
                    "--turns" => options with { Turns = PositiveInt(Value(), name) },
                    "--long-input-len" => options with { LongInputWords = NonNegativeInt(Value(), name) },
                    "--long-fraction" => options with { LongFraction = Fraction(Value(), name) },
                    "--no-ignore-eos" => options with { IgnoreEos = false },
                    "--seed" => options with { Seed = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--concurrency" => options with { Concurrencies = ParseList(Value(), v => PositiveInt(v, name)) },
                    "--request-rate" => options with { RequestRates = ParseList(Value(), ParseRate) },
                    "--burstiness" => options with { Burstiness = PositiveDouble(Value(), name) },
                    "--max-concurrency" => options with { MaxConcurrency = PositiveInt(Value(), name) },
                    "--requests" => options with { Requests = PositiveInt(Value(), name) },
                    "--warmup" => options with { WarmupRequests = NonNegativeInt(Value(), name) },
                    "--duration" => options with { Duration = Positive(DurationText.Parse(Value(), TimeSpan.FromSeconds(1)), name) },
                    "--slo" => AddSlo(options, slos, Value()),
                    "--out" => options with { JsonPath = Value() },
                    "--markdown" => options with { MarkdownPath = Value() },
                    "--charts" => options with { ChartsDirectory = Value() },
                    "--no-progress" => options with { NoProgress = true },
                    _ => throw new UsageException($"Unknown option '{arg}'. Try --help."),
                };
            }
            catch (FormatException e)
            {
                throw new UsageException($"{name}: {e.Message}");
            }
        }

        if (options.Concurrencies.Count > 0 && options.RequestRates.Count > 0)
            throw new UsageException("Give --concurrency (closed loop) or --request-rate (open loop), not both.");
        if (options.MaxConcurrency is not null && options.RequestRates.Count == 0)
            throw new UsageException("--max-concurrency applies to --request-rate runs only.");
        return options with { Slos = slos };
    }

    private static LoadGenOptions AddSlo(LoadGenOptions options, List<Slo> slos, string text)
    {
        Slo slo = Slo.Parse(text);
        if (slos.Any(s => s.Metric == slo.Metric))
            throw new UsageException($"SLO for {slo.Metric} given twice.");
        slos.Add(slo);
        return options;
    }

    private static Uri ParseBaseUrl(string text)
    {
        if (!Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            throw new UsageException($"--base-url '{text}' is not an http(s) URL.");
        return uri;
    }

    private static EndpointKind ParseEndpoint(string text) => text switch
    {
        "chat" or "chat-completions" or "chat/completions" => EndpointKind.ChatCompletions,
        "completions" => EndpointKind.Completions,
        _ => throw new UsageException($"--endpoint must be chat or completions, not '{text}'."),
    };

    private static string ParseWorkload(string text) => text is "random" or "shared-prefix" or "multi-turn" or "mixed"
        ? text
        : throw new UsageException($"--workload must be random, shared-prefix, multi-turn or mixed, not '{text}'.");

    private static double ParseRate(string text) =>
        text is "inf" or "infinity" ? double.PositiveInfinity : PositiveDouble(text, "--request-rate");

    private static IReadOnlyList<T> ParseList<T>(string text, Func<string, T> parse) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToList() is { Count: > 0 } list
            ? list
            : throw new FormatException("empty list");

    private static int PositiveInt(string text, string name) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new UsageException($"{name} must be a positive integer, not '{text}'.");

    private static int NonNegativeInt(string text, string name) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v : throw new UsageException($"{name} must be a non-negative integer, not '{text}'.");

    private static double PositiveDouble(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v) ? v : throw new UsageException($"{name} must be a positive number, not '{text}'.");

    private static double Fraction(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v is >= 0 and <= 1 ? v : throw new UsageException($"{name} must be between 0 and 1, not '{text}'.");

    private static TimeSpan Positive(TimeSpan value, string name) =>
        value > TimeSpan.Zero ? value : throw new UsageException($"{name} must be positive.");

    private static LengthRange PositiveRange(LengthRange range, string name) =>
        range.Min > 0 ? range : throw new UsageException($"{name} must be at least 1.");
}
