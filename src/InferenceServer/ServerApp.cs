using InferenceServer.Api;
using InferenceServer.Operations;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serilog;

namespace InferenceServer;

/// <summary>The composition root: configuration, logging, the model host and the HTTP surface.</summary>
public static class ServerApp
{
    /// <summary>Builds the server from command-line flags. Throws <see cref="ArgumentException"/> for bad flags or settings.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        if (CommandLine.TryParse(args, out var flags, out _) is { } flagError) throw new ArgumentException(flagError);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddInMemoryCollection(flags);
        var options = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        Validate(options);
        builder.Services.AddSerilog((services, logger) =>
        {
            logger
                .ReadFrom.Configuration(builder.Configuration)
                .MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("InferenceServer.Llama", Serilog.Events.LogEventLevel.Warning)
                .Enrich.FromLogContext();
            if (options.LogFormat == "json") logger.WriteTo.Console(new Serilog.Formatting.Compact.RenderedCompactJsonFormatter());
            else logger.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj} {RequestId}{NewLine}{Exception}");
        });

        // Before anything calls into llama.cpp: LLamaSharp fixes which library it uses on the first call.
        if (!string.IsNullOrWhiteSpace(options.NativeLibDir)) Llama.NativeLibraries.LoadFrom(options.NativeLibDir);
        builder.Services.Configure<ServerOptions>(builder.Configuration.GetSection(ServerOptions.Section));
        builder.WebHost.UseUrls($"http://{options.Host}:{options.Port}");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.ConfigureEndpointDefaults(KestrelErrorBodies.Use);
        });
        // The host's stop covers the drain and then Kestrel's own stop.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainTimeoutSeconds + 5));
        builder.Services.AddSingleton(ApiKeys.From(options));
        builder.Services.AddSingleton<Admission>();
        builder.Services.AddSingleton<RequestResolver>();
        builder.Services.AddSingleton<EngineClient>();
        builder.Services.AddSingleton<Api.Responses.ResponseStore>();
        builder.Services.AddSingleton<Drain>();
        builder.Services.AddHostedService(services => services.GetRequiredService<Drain>());
        var telemetry = new InferenceTelemetry();
        builder.Services.AddSingleton(_ => telemetry);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelRegistry>());
        AddOpenTelemetry(builder, telemetry.MeterName);
        configure?.Invoke(builder);

        var app = builder.Build();
        ErrorShapes.Use(app);
        RequestBodyLimit.Use(app, options.MaxRequestBodyBytes);
        RequestPipeline.Use(app);
        app.UseExceptionHandler(errors => errors.Run(context =>
        {
            var failure = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            // A body Kestrel could not read (outside an endpoint: --log-prompts reads it first) is the client's mistake.
            if (failure is BadHttpRequestException unreadable) return RequestBody.Unreadable(unreadable).WriteAsync(context.Response);
            app.Logger.LogError(failure, "Unhandled error in request {RequestId}", context.TraceIdentifier);
            return new ApiError(StatusCodes.Status500InternalServerError,
                $"The server had an error while processing your request (request id {context.TraceIdentifier}).", "server_error").WriteAsync(context.Response);
        }));
        app.UseStatusCodePages(context => StatusCodeError(context.HttpContext));
        var keys = app.Services.GetRequiredService<ApiKeys>();
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/metrics"), metrics => metrics.Use(async (http, next) =>
        {
            if (keys.AuthorizeMetrics(http.Request.Headers.Authorization) is { } unauthorized)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await unauthorized.WriteAsync(http.Response);
                return;
            }
            await next(http);
        }));
        MapEndpoints(app);
        if (!options.NoWebUi) WebUi.Playground.Map(app);
        // Anthropic's clients check with HEAD / that the server is up; without the playground GET / stays an unknown route (not a 405).
        else app.Use((http, next) => HttpMethods.IsHead(http.Request.Method) && http.Request.Path == "/" ? Task.CompletedTask : next(http));
        return app;
    }

    /// <summary>
    /// Traces (the HTTP span from ASP.NET Core, queue/prefill/decode spans from the engine's timings) and metrics,
    /// exported as Prometheus text on /metrics and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, by OTLP.
    /// </summary>
    private static void AddOpenTelemetry(WebApplicationBuilder builder, string meterName)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("inferenceserver"))
            .WithTracing(tracing => tracing.AddSource(InferenceTelemetry.Name).AddAspNetCoreInstrumentation())
            .WithMetrics(metrics => metrics.AddMeter(meterName).AddAspNetCoreInstrumentation()
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        if (otlp) telemetry.UseOtlpExporter();
    }

    private static void MapEndpoints(WebApplication app)
    {
        app.MapGet("/health", (ModelRegistry models) => !models.IsStarted
            ? Results.Json(new { status = "loading" }, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new { status = "ok" }));
        app.MapGet("/ready", (ModelRegistry models, Drain drain) => !models.IsStarted || drain.IsDraining
            ? Results.Json(new { status = drain.IsDraining ? "draining" : "loading" }, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new { status = "ready" }));
        app.MapPrometheusScrapingEndpoint("/metrics");

        var v1 = app.MapGroup("/v1").AddEndpointFilter(ApiErrors);
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        v1.MapPost("/completions", CompletionsEndpoint.HandleAsync);
        Api.Responses.ResponsesEndpoint.Map(v1);
        Api.Anthropic.MessagesEndpoint.Map(v1);
        v1.MapGet("/models", ModelsEndpoint.List);
        v1.MapGet("/models/{**id}", ModelsEndpoint.Get);
        v1.MapPost("/embeddings", EmbeddingsEndpoint.HandleAsync);
        v1.MapGet("/adapters", AdaptersEndpoint.List);
        v1.MapPost("/adapters", AdaptersEndpoint.LoadAsync);
        v1.MapDelete("/adapters/{name}", AdaptersEndpoint.Delete);

        Api.Ollama.OllamaEndpoints.Map(app.MapGroup("/api").AddEndpointFilter(ApiErrors));

        var tokenizer = app.MapGroup("").AddEndpointFilter(ApiErrors);
        tokenizer.MapPost("/tokenize", TokenizerEndpoints.TokenizeAsync);
        tokenizer.MapPost("/detokenize", TokenizerEndpoints.DetokenizeAsync);
        tokenizer.MapPost("/apply-template", ApplyTemplateEndpoint.HandleAsync);
        app.MapGet("/status", StatusEndpoint.Get);
    }

    /// <summary>Turns an <see cref="ApiException"/> thrown while reading a request into its OpenAI-shaped response.</summary>
    private static async ValueTask<object?> ApiErrors(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (ApiException ex)
        {
            return ex.Error.ToResult();
        }
    }

    /// <summary>Gives routing's bodiless 404/405 (and any other bare error status) OpenAI's error shape.</summary>
    private static Task StatusCodeError(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var request = $"{context.Request.Method} {context.Request.Path}";
        var error = status switch
        {
            StatusCodes.Status404NotFound => new ApiError(status, $"Unknown route: {request}.", "invalid_request_error", Code: "unknown_url"),
            StatusCodes.Status405MethodNotAllowed => new ApiError(status, $"Method not allowed: {request}.", "invalid_request_error", Code: "method_not_allowed"),
            _ => new ApiError(status, $"The request failed with status {status}.", "invalid_request_error"),
        };
        return error.WriteAsync(context.Response);
    }

    private static void Validate(ServerOptions options)
    {
        // A model on the hub is checked when it has been downloaded, before it loads.
        foreach (var spec in ModelSpec.From(options))
        {
            if (spec.LocalPath is { } path)
            {
                try
                {
                    Llama.LlamaModel.CheckGgufFile(path);
                }
                catch (Llama.ModelLoadException ex)
                {
                    throw new ArgumentException(ex.Message);
                }
            }
            var ofModel = options.Models.Count == 0 ? "" : $" of model '{spec.Id}'";
            if (spec.Parallel is < 1 or > 256) throw new ArgumentException($"--parallel {spec.Parallel}{ofModel} must be between 1 and 256.");
            if (options.BatchSize < spec.Parallel)
                throw new ArgumentException($"--batch-size {options.BatchSize} must be at least --parallel {spec.Parallel}{ofModel}, so that every running sequence advances each step.");
        }
        foreach (var spec in options.Lora)
        {
            var (_, path, _) = LoraSpec.Parse(spec);
            try
            {
                Llama.LlamaModel.CheckGgufFile(path, "LoRA adapter");
            }
            catch (Llama.ModelLoadException ex)
            {
                throw new ArgumentException($"--lora {spec}: {ex.Message}");
            }
        }
        if (options.Lora.Select(spec => LoraSpec.Parse(spec).Name).GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"--lora names the adapter '{twice.Key}' twice.");
        if (!string.IsNullOrWhiteSpace(options.ModelsMemoryBudget) && ModelSpec.ParseBytes(options.ModelsMemoryBudget) is not > 0)
            throw new ArgumentException($"--models-memory-budget {options.ModelsMemoryBudget} is not a positive size (bytes, or with K, M, G: 8G).");
        if (options.ModelLoadWaitSeconds < 0) throw new ArgumentException($"--model-load-wait {options.ModelLoadWaitSeconds} must not be negative.");
        if (options.Port is < 0 or > 65535) throw new ArgumentException($"--port {options.Port} is not a valid port.");
        if (options.ContextSize < 0) throw new ArgumentException($"--ctx-size {options.ContextSize} must not be negative.");
        if (options.Threads < 0) throw new ArgumentException($"--threads {options.Threads} must not be negative.");
        if (options.MicroBatchSize < 1 || options.MicroBatchSize > options.BatchSize)
            throw new ArgumentException($"--ubatch-size {options.MicroBatchSize} must be between 1 and --batch-size {options.BatchSize}.");
        if (options.MaxQueue < 0) throw new ArgumentException($"--max-queue {options.MaxQueue} must not be negative.");
        if (options.MaxQueueWaitSeconds < 0) throw new ArgumentException($"--max-queue-wait {options.MaxQueueWaitSeconds} must not be negative.");
        if (options.DrainTimeoutSeconds < 0) throw new ArgumentException($"--drain-timeout {options.DrainTimeoutSeconds} must not be negative.");
        if (options.RequestsPerMinute < 0 || options.TokensPerMinute < 0) throw new ArgumentException("--rate-limit-rpm and --rate-limit-tpm must not be negative.");
        if (options.MaxRequestBodyBytes < 1) throw new ArgumentException($"--max-body-bytes {options.MaxRequestBodyBytes} must be positive.");
        if (options.Speculative is not ("ngram" or "none")) throw new ArgumentException($"--speculative {options.Speculative} must be ngram or none.");
        if (options.DraftMax is < 1 or > Engine.SpeculationOptions.LargestDraft)
            throw new ArgumentException($"--draft-max {options.DraftMax} must be between 1 and {Engine.SpeculationOptions.LargestDraft} (a sequence's fed token and draft stay below 64 tokens per decode).");
        if (!string.IsNullOrWhiteSpace(options.DraftModel) && options.Speculative == "ngram")
            throw new ArgumentException("--draft-model and --speculative ngram are two drafters: choose one.");
        if (options.DraftMinP is < 0 or > 1) throw new ArgumentException($"--draft-min-p {options.DraftMinP} must be between 0 and 1.");
        if (options.SpeculativePolicy is not ("measured" or "always")) throw new ArgumentException($"--speculative-policy {options.SpeculativePolicy} must be measured or always.");
        if (options.SpeculativeMaxBatch < 0) throw new ArgumentException($"--speculative-max-batch {options.SpeculativeMaxBatch} must not be negative.");
        if (options.StreamInterval < 1) throw new ArgumentException($"--stream-interval {options.StreamInterval} must be 1 or more.");
        if (options.ReasoningFormat is not ("auto" or "none")) throw new ArgumentException($"--reasoning-format {options.ReasoningFormat} must be auto or none.");
        if (options.ResponsesStoreMaxItems < 0 || options.ResponsesStoreMaxBytes < 0)
            throw new ArgumentException("--responses-store-items and --responses-store-bytes must not be negative.");
        if (options.MaxMessages < 1) throw new ArgumentException($"--max-messages {options.MaxMessages} must be positive.");
        if (options.MaxPromptTokens < 0 || options.MaxCompletionTokens < 0) throw new ArgumentException("--max-prompt-tokens and --max-completion-tokens must not be negative.");
        if (options.LogFormat is not ("text" or "json")) throw new ArgumentException($"--log-format {options.LogFormat} must be text or json.");
        if (options.GpuLayers < 0) throw new ArgumentException($"--n-gpu-layers {options.GpuLayers} must not be negative.");
        var types = string.Join(", ", Llama.KvCacheType.All.Select(t => t.Name));
        if (options.CacheTypeK != ServerOptions.ExactKeys && Llama.KvCacheType.Parse(options.CacheTypeK) is null)
            throw new ArgumentException($"--cache-type-k {options.CacheTypeK} is not a KV cache type: use {ServerOptions.ExactKeys} or one of {types}.");
        if (Llama.KvCacheType.Parse(options.CacheTypeV) is null)
            throw new ArgumentException($"--cache-type-v {options.CacheTypeV} is not a KV cache type: use one of {types}.");
    }
}
