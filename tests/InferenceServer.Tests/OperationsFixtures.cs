using System.Diagnostics;
using InferenceServer.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry.Trace;

namespace InferenceServer.Tests;

/// <summary>
/// Holds the engine loop at a request's first token while closed, so a test can keep requests in flight
/// (running, or waiting behind a busy sequence) for exactly as long as it needs. Runs on the loop thread.
/// </summary>
public sealed class EngineGate : IEngineObserver
{
    private readonly ManualResetEventSlim _open = new(true);

    public void Close() => _open.Reset();

    public void Open() => _open.Set();

    public void TokenGenerated(string requestId, TimeSpan? sinceLastToken)
    {
        if (sinceLastToken is null) _open.Wait(TimeSpan.FromSeconds(60));
    }

    public void StepDecoded(in StepTimings step)
    {
    }

    public void RequestAdmitted(string requestId, TimeSpan queueWait)
    {
    }

    public void RequestFinished(string requestId, GenerationFinished finished)
    {
    }
}

/// <summary>
/// One sequence and one waiting place (so the third concurrent request gets 429), a longest queue wait of two seconds
/// of <see cref="Clock"/>, an <see cref="EngineGate"/>, and every finished span kept in memory.
/// </summary>
public class BusyServerFixture : ServerFixture
{
    public EngineGate Gate { get; } = new();
    public List<Activity> Spans { get; } = [];

    /// <summary>The server's clock: a waiting request passes --max-queue-wait when a test moves it (timings stay on real time).</summary>
    public FakeTimeProvider Clock { get; } = new();

    protected override string[] ExtraArgs => ["-np", "1", "--max-queue", "1", "--max-queue-wait", "2", "--drain-timeout", "60"];

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IEngineObserver>(Gate);
        builder.Services.AddSingleton<TimeProvider>(Clock);
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(Spans));
    }
}

[CollectionDefinition(Name)]
public sealed class BusyServerCollection : ICollectionFixture<BusyServerFixture>
{
    public const string Name = "busy server";
}

/// <summary>API keys (two on the command line, one in a file, an admin and a metrics key), per-key rate limits and request limits.</summary>
public sealed class GuardedServerFixture : ServerFixture
{
    public const string Key = "sk-test-first";
    public const string FileKey = "sk-test-from-file";
    public const string AdminKey = "sk-test-admin";
    public const string MetricsKey = "sk-test-metrics";
    public const int RequestsPerMinute = 3;
    public const int TokensPerMinute = 300;

    /// <summary>Keys a test may spend its per-minute allowance on without touching another test's.</summary>
    public static readonly string[] SpareKeys = Enumerable.Range(1, 14).Select(i => $"sk-test-spare-{i}").ToArray();

    private readonly string _keyFile = Path.GetTempFileName();

    public GuardedServerFixture() => File.WriteAllLines(_keyFile, ["# API keys", FileKey, ""]);

    protected override string[] ExtraArgs =>
    [
        "-np", "4", "--api-key", Key, "--admin-api-key", AdminKey, "--metrics-api-key", MetricsKey, .. SpareKeys.SelectMany(k => new[] { "--api-key", k }), "--api-key-file", _keyFile,
        "--rate-limit-rpm", RequestsPerMinute.ToString(), "--rate-limit-tpm", TokensPerMinute.ToString(),
        "--max-body-bytes", "4000", "--max-messages", "3", "--max-prompt-tokens", "40", "--max-completion-tokens", "100",
    ];
}

[CollectionDefinition(Name)]
public sealed class GuardedServerCollection : ICollectionFixture<GuardedServerFixture>
{
    public const string Name = "guarded server";
}
