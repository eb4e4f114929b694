using System.Diagnostics;
using InferenceServer.Api;
using Microsoft.Extensions.Options;
using Serilog.Context;

namespace InferenceServer.Operations;

/// <summary>
/// The middleware every request passes, outermost first: request id on every log line and one summary line
/// per request (with its spans and counts), then for API routes the gate — draining (503), API key (401),
/// requests per minute (429) — before the endpoint runs.
/// </summary>
internal static partial class RequestPipeline
{
    public static void Use(WebApplication app)
    {
        var telemetry = app.Services.GetRequiredService<InferenceTelemetry>();
        var logPrompts = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.LogPrompts;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceServer.Requests");
        app.Use(async (http, next) =>
        {
            var record = new RequestRecord { Completion = logPrompts ? new() : null };
            http.Features.Set(record);
            using var _ = LogContext.PushProperty("RequestId", http.TraceIdentifier);
            var started = Stopwatch.GetTimestamp();
            if (logPrompts && HttpMethods.IsPost(http.Request.Method)) await LogBodyAsync(http, logger);
            try
            {
                await next(http);
            }
            finally
            {
                telemetry.Complete(http, record);
                LogSummary(logger, http, record, Stopwatch.GetElapsedTime(started));
            }
        });

        var drain = app.Services.GetRequiredService<Drain>();
        var keys = app.Services.GetRequiredService<ApiKeys>();
        var admission = app.Services.GetRequiredService<Admission>();
        app.UseWhen(IsApiRoute, v1 => v1.Use(async (http, next) =>
        {
            if (!drain.TryEnter())
            {
                await new ApiError(StatusCodes.Status503ServiceUnavailable, "The server is shutting down. Retry on another instance.",
                    "service_unavailable", Code: "server_shutting_down", RetryAfterSeconds: 1).WriteAsync(http.Response);
                return;
            }
            try
            {
                var (identity, unauthorized) = keys.Authenticate(http.Request.Headers.Authorization, http.Request.Headers["x-api-key"]);
                if (unauthorized is not null)
                {
                    http.Response.Headers.WWWAuthenticate = "Bearer";
                    await unauthorized.WriteAsync(http.Response);
                    return;
                }
                http.Features.Set(identity);
                if (admission.TryAcquireRequest(identity!) is { } limited)
                {
                    await limited.WriteAsync(http.Response);
                    return;
                }
                await next(http);
            }
            finally
            {
                drain.Leave();
            }
        }));
    }

    /// <summary>The routes behind API keys and limits: all of /v1, Ollama's /api, llama-server's /tokenize and /detokenize, and /status.</summary>
    private static bool IsApiRoute(HttpContext http) =>
        http.Request.Path.StartsWithSegments("/v1") || http.Request.Path.StartsWithSegments("/api") || http.Request.Path.StartsWithSegments("/tokenize") || http.Request.Path.StartsWithSegments("/detokenize")
        || http.Request.Path.StartsWithSegments("/status");

    private static async Task LogBodyAsync(HttpContext http, ILogger logger)
    {
        http.Request.EnableBuffering();
        using var reader = new StreamReader(http.Request.Body, leaveOpen: true);
        LogRequestBody(logger, await reader.ReadToEndAsync(http.RequestAborted));
        http.Request.Body.Position = 0;
    }

    private static void LogSummary(ILogger logger, HttpContext http, RequestRecord record, TimeSpan elapsed)
    {
        var status = http.Response.StatusCode;
        var finished = record.Finished;
        if (finished.Count == 0)
        {
            LogRequest(logger, http.Request.Method, http.Request.Path, status, elapsed.TotalMilliseconds);
            return;
        }
        if (record.Completion is { Length: > 0 } completion) LogCompletion(logger, completion.ToString());
        var last = finished[^1].Finished;
        LogGeneration(logger, http.Request.Method, http.Request.Path, status, record.Model,
            finished.Sum(f => f.Finished.PromptTokens), finished.Sum(f => f.Finished.CachedPromptTokens), finished.Sum(f => f.Finished.CompletionTokens),
            finished.Max(f => f.Finished.Timings.QueueWait.TotalMilliseconds),
            finished.Select(f => f.Finished.Timings.TimeToFirstToken?.TotalMilliseconds).Min(),
            elapsed.TotalMilliseconds, GenerationStreams.FinishReasonName(last.Reason));
    }

    [LoggerMessage(LogLevel.Information, "{Method} {Path} {StatusCode} in {DurationMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, int statusCode, double durationMs);

    [LoggerMessage(LogLevel.Information, "{Method} {Path} {StatusCode} model={Model} prompt_tokens={PromptTokens} cached_tokens={CachedTokens} " +
        "completion_tokens={CompletionTokens} queue_wait_ms={QueueWaitMs:0.0} ttft_ms={TimeToFirstTokenMs:0.0} duration_ms={DurationMs:0.0} finish_reason={FinishReason}")]
    private static partial void LogGeneration(ILogger logger, string method, string path, int statusCode, string? model, int promptTokens, int cachedTokens,
        int completionTokens, double queueWaitMs, double? timeToFirstTokenMs, double durationMs, string finishReason);

    [LoggerMessage(LogLevel.Information, "Request body: {Body}")]
    private static partial void LogRequestBody(ILogger logger, string body);

    [LoggerMessage(LogLevel.Information, "Completion: {Completion}")]
    private static partial void LogCompletion(ILogger logger, string completion);
}
