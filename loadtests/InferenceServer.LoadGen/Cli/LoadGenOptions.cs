using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Metrics;
using InferenceServer.LoadGen.Workloads;

namespace InferenceServer.LoadGen.Cli;

/// <summary>Everything the command line sets. Defaults here are the documented defaults.</summary>
internal sealed record LoadGenOptions
{
    /// <summary>Always ends with '/', so relative paths like <c>chat/completions</c> append to it.</summary>
    public Uri BaseUrl { get; init; } = new("http://127.0.0.1:8080/v1/");
    public string? ApiKey { get; init; }
    /// <summary>Null: ask the server's <c>/models</c> and use the first one.</summary>
    public string? Model { get; init; }
    public EndpointKind Endpoint { get; init; } = EndpointKind.ChatCompletions;
    public string Workload { get; init; } = "random";
    public LengthRange InputWords { get; init; } = LengthRange.Fixed(128);
    public LengthRange OutputTokens { get; init; } = LengthRange.Fixed(64);
    public int PrefixWords { get; init; } = 512;
    public int Turns { get; init; } = 4;
    public int LongInputWords { get; init; } = 2048;
    public double LongFraction { get; init; } = 0.25;
    public bool IgnoreEos { get; init; } = true;
    /// <summary>Closed-loop levels to sweep; empty when <see cref="RequestRates"/> drives the run.</summary>
    public IReadOnlyList<int> Concurrencies { get; init; } = [];
    /// <summary>Open-loop arrival rates (requests/s, may be +∞) to sweep.</summary>
    public IReadOnlyList<double> RequestRates { get; init; } = [];
    public double Burstiness { get; init; } = 1.0;
    public int? MaxConcurrency { get; init; }
    public int Requests { get; init; } = 64;
    /// <summary>Unmeasured requests sent one at a time before the first level (connections, JIT, server warm-up).</summary>
    public int WarmupRequests { get; init; } = 1;
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public int Seed { get; init; }
    public IReadOnlyList<Slo> Slos { get; init; } = [];
    public string? JsonPath { get; init; }
    public string? MarkdownPath { get; init; }
    public string? ChartsDirectory { get; init; }
    public bool NoProgress { get; init; }
    public bool AllowRemote { get; init; }
    public bool ShowHelp { get; init; }

    /// <summary>The levels to run in order: the concurrency sweep, else the rate sweep, else one client.</summary>
    public IReadOnlyList<LoadLevel> Levels() =>
        RequestRates.Count > 0 ? RequestRates.Select(r => LoadLevel.Open(r, MaxConcurrency)).ToList()
        : Concurrencies.Count > 0 ? Concurrencies.Select(LoadLevel.Closed).ToList()
        : [LoadLevel.Closed(1)];

    /// <param name="warmup">True for the warm-up workload: other prompts, so warm-up cannot pre-fill the prefix cache for measured ones.</param>
    public Workload CreateWorkload(bool warmup = false)
    {
        int seed = warmup ? ~Seed : Seed;
        return Workload switch
        {
            "random" => new RandomWorkload(seed, InputWords, OutputTokens),
            "shared-prefix" => new SharedPrefixWorkload(seed, PrefixWords, InputWords, OutputTokens),
            "multi-turn" => new MultiTurnWorkload(seed, Turns, InputWords, OutputTokens),
            "mixed" => new MixedWorkload(seed, InputWords, LongInputWords, LongFraction, OutputTokens),
            _ => throw new UsageException($"Unknown workload '{Workload}'."),
        };
    }
}

/// <summary>A command line the tool cannot run; the message says why.</summary>
internal sealed class UsageException(string message) : Exception(message);
