using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using InferenceServer.Engine;
using InferenceServer.ModelDownload;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InferenceServer.Api.Ollama;

/// <summary>
/// Ollama's API under /api: chat and generate (NDJSON streams by default, or whole), embed and the older embeddings,
/// and the model routes tags, show, ps and version. Chat and generate are translators on the chat pipeline
/// (<see cref="OllamaRequest"/> in, <see cref="OllamaReply"/> out); the routes that manage Ollama's model store
/// answer 501. Errors take Ollama's shape (<see cref="OllamaError"/>).
/// </summary>
internal static class OllamaEndpoints
{
    /// <summary>The Ollama release whose API these routes follow: clients read it to know which fields (think, tools) they may send.</summary>
    public const string Version = "0.12.6";

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/chat", ChatAsync);
        api.MapPost("/generate", GenerateAsync);
        api.MapPost("/embed", EmbedAsync);
        api.MapPost("/embeddings", EmbeddingsAsync);
        api.MapGet("/tags", Tags);
        api.MapPost("/show", ShowAsync);
        api.MapGet("/ps", Running);
        api.MapGet("/version", () => TypedResults.Json(new JsonObject { ["version"] = Version }));
        foreach (var (method, route) in new[]
                 {
                     ("POST", "/pull"), ("POST", "/push"), ("POST", "/create"), ("POST", "/copy"), ("DELETE", "/delete"),
                     ("POST", "/blobs/{digest}"), ("HEAD", "/blobs/{digest}"),
                 })
        {
            api.MapMethods(route, [method], (HttpContext http) => new ApiError(StatusCodes.Status501NotImplemented,
                $"{method} {http.Request.Path} is not supported by this server: it serves the models it was started with (-m FILE.gguf, -m hf://OWNER/REPO/FILE.gguf); GET /api/tags lists them.",
                "invalid_request_error", Code: "not_supported").ToResult());
        }
    }

    private static async Task<IResult> ChatAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ModelRegistry models, ILoggerFactory loggers)
    {
        var started = Stopwatch.GetTimestamp();
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted, anyContentType: true);
        var name = reader.RequiredString("model");
        var body = Renamed(() => OllamaRequest.Chat(reader));
        var resolved = await ResolveAsync(http, resolver, models, name);
        var reply = new OllamaReply(name, Chat: true, Stopwatch.GetElapsedTime(started), started);
        // Ollama's way to load a model: a request without messages.
        if (((JsonArray)body["messages"]!).Count == 0) return TypedResults.Json(reply.Loaded(), ApiJson.Options);
        var chat = new RequestReader(body);
        var input = Renamed(() => ChatInput.Read(chat));
        var plan = Renamed(() => ChatPlan.Prepare(resolved, input, ReadSettings(chat, resolved), "messages", "format", loggers.CreateLogger(typeof(OllamaEndpoints))));
        return await RunAsync(http, engine, resolved, plan, chat, reply, input.Messages.Count, loggers);
    }

    /// <summary>A prompt through the chat template (with <c>system</c>), or as it is with <c>raw</c>.</summary>
    private static async Task<IResult> GenerateAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ModelRegistry models, ILoggerFactory loggers)
    {
        var started = Stopwatch.GetTimestamp();
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted, anyContentType: true);
        var name = reader.RequiredString("model");
        var prompt = reader.OptionalString("prompt") ?? "";
        var body = Renamed(() => OllamaRequest.Generate(reader, prompt));
        var resolved = await ResolveAsync(http, resolver, models, name);
        var reply = new OllamaReply(name, Chat: false, Stopwatch.GetElapsedTime(started), started);
        if (prompt.Length == 0) return TypedResults.Json(reply.Loaded(), ApiJson.Options);
        var chat = new RequestReader(body);
        var settings = ReadSettings(chat, resolved);
        var plan = reader.OptionalBool("raw") is true
            ? new ChatPlan(resolved.Tokenize(prompt, "prompt"), settings, new OutputShape(null, Parallel: true))
            : Renamed(() => ChatPlan.Prepare(resolved, ChatInput.Read(chat, toolsServed: false), settings, "prompt", "format", loggers.CreateLogger(typeof(OllamaEndpoints))));
        return await RunAsync(http, engine, resolved, plan, chat, reply, 1, loggers);
    }

    private static GenerationSettings ReadSettings(RequestReader chat, ResolvedRequest resolved) => Renamed(() =>
        GenerationSettings.Read(chat, "max_tokens", resolved.Model.Tokenizer.VocabularySize, toolsServed: true).WithResponseFormat(chat, resolved.Model.Grammars));

    private static async Task<IResult> RunAsync(HttpContext http, EngineClient engine, ResolvedRequest resolved, ChatPlan plan, RequestReader chat,
        OllamaReply reply, int messages, ILoggerFactory loggers)
    {
        var aborted = http.RequestAborted;
        var context = resolved.Model.Engine.MaxSequenceTokens;
        var numCtx = (int?)chat.OptionalInteger("num_ctx", 1, int.MaxValue);
        if (numCtx > context)
            throw RequestReader.Invalid("options.num_ctx", $"'options.num_ctx' {numCtx} is more than the {context} tokens of context this server gives the model (set with -c and -np).");
        var settings = plan.Settings.AsCeiling(resolved, plan.Tokens.Length, numCtx);
        var request = settings.ToEngineRequest(GenerationStreams.NewId("ollama"), plan.Tokens, context, reply.Chat ? "messages" : "prompt");
        var streams = await engine.SubmitAllAsync(resolved, settings, [request], aborted, messages);
        if (settings.Stream)
            return new NdjsonResult(GenerationStreams.WithErrorEvent(StreamAsync(streams[0], plan.Output, reply, aborted),
                OllamaError.Shape.Body, loggers.CreateLogger(typeof(OllamaEndpoints)), aborted));
        var result = await GenerationStreams.GatherAsync(0, streams[0], aborted);
        var (reasoning, parsed) = plan.Output.Parse(result.Text);
        var whole = reply.Chunk(parsed.Content, reasoning, [.. parsed.ToolCalls]);
        reply.Done(whole, result.Reason, result.PromptTokens, result.CachedTokens, result.CompletionTokens, result.Timings!);
        return ApiJson.Whole(whole);
    }

    private static async IAsyncEnumerable<JsonObject> StreamAsync(ChannelReader<GenerationEvent> stream, OutputShape shape, OllamaReply reply,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var output = new OllamaStreamOutput(shape);
        await foreach (var item in stream.ReadAllAsync(cancellationToken))
        {
            if (item is TextDelta delta)
            {
                foreach (var (content, thinking, calls) in output.Push(delta.Text)) yield return reply.Chunk(content, thinking, calls);
            }
            else if (item is GenerationFinished done)
            {
                if (done.Reason == FinishReason.Cancelled) yield break;
                foreach (var (content, thinking, calls) in output.Finish()) yield return reply.Chunk(content, thinking, calls);
                var last = reply.Chunk("", "", []);
                reply.Done(last, done.Reason, done.PromptTokens, done.CachedPromptTokens, done.CompletionTokens, done.Timings);
                yield return last;
            }
        }
    }

    /// <summary>POST /api/embed: one input or several; Ollama truncates an input longer than the model takes unless truncate is false.</summary>
    private static async Task<IResult> EmbedAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ModelRegistry models)
    {
        var started = Stopwatch.GetTimestamp();
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted, anyContentType: true);
        var name = reader.RequiredString("model");
        var resolved = await resolver.ResolveBaseAsync(http, ModelReader(models, name));
        var loaded = Stopwatch.GetElapsedTime(started);
        var truncate = reader.OptionalBool("truncate") ?? true;
        var inputs = PromptInput.Read(reader, "input", 2048, resolved.Model.Tokenizer.VocabularySize);
        var max = resolved.Model.Embeddings.MaxInputTokens;
        var tokens = inputs.Select((input, i) =>
        {
            var param = inputs.Count == 1 ? "input" : $"input[{i}]";
            var ids = input.Tokens ?? (input.Text!.Length == 0 ? throw RequestReader.Invalid(param, "An input must not be empty.") : resolved.Tokenize(input.Text, param));
            return ids.Length <= max ? ids
                : truncate ? ids[..max]
                : throw RequestReader.Invalid(param, $"An input may have at most {max} tokens; this one has {ids.Length} (send truncate: true to cut it).", "context_length_exceeded");
        }).ToList();
        if (reader.OptionalInteger("dimensions", 1, int.MaxValue) is { } dimensions && dimensions != resolved.Model.Embeddings.Dimensions)
            throw RequestReader.Invalid("dimensions", $"This model's embeddings have {resolved.Model.Embeddings.Dimensions} dimensions and cannot be shortened to {dimensions}.");
        var vectors = await engine.EmbedAsync(resolved, tokens, http.RequestAborted);
        return ApiJson.Whole(new JsonObject
        {
            ["model"] = name,
            ["embeddings"] = new JsonArray([.. vectors.Select(v => (JsonNode)new JsonArray([.. v.Select(x => (JsonNode)x)]))]),
            ["total_duration"] = Nanoseconds(Stopwatch.GetElapsedTime(started)),
            ["load_duration"] = Nanoseconds(loaded),
            ["prompt_eval_count"] = tokens.Sum(t => t.Length),
        });
    }

    /// <summary>POST /api/embeddings, Ollama's older route: one <c>prompt</c>, one <c>embedding</c>.</summary>
    private static async Task<IResult> EmbeddingsAsync(HttpContext http, RequestResolver resolver, EngineClient engine, ModelRegistry models)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted, anyContentType: true);
        var resolved = await resolver.ResolveBaseAsync(http, ModelReader(models, reader.RequiredString("model")));
        var prompt = reader.OptionalString("prompt") ?? "";
        // Ollama answers an empty prompt with an empty embedding.
        if (prompt.Length == 0) return TypedResults.Json(new JsonObject { ["embedding"] = new JsonArray() }, ApiJson.Options);
        var tokens = resolved.Tokenize(prompt, "prompt");
        if (tokens.Length > resolved.Model.Embeddings.MaxInputTokens) tokens = tokens[..resolved.Model.Embeddings.MaxInputTokens];
        var vectors = await engine.EmbedAsync(resolved, [tokens], http.RequestAborted);
        return ApiJson.Whole(new JsonObject { ["embedding"] = new JsonArray([.. vectors[0].Select(x => (JsonNode)x)]) });
    }

    /// <summary>GET /api/tags: every configured model, loaded or not, with what its GGUF header says.</summary>
    private static IResult Tags(ModelRegistry models, IConfiguration configuration, IOptions<ServerOptions> options) =>
        TypedResults.Json(new JsonObject
        {
            ["models"] = new JsonArray([.. models.Specs.Select(spec => (JsonNode)Describe(spec, FactsOf(spec, configuration, options.Value)))]),
        }, ApiJson.Options);

    /// <summary>GET /api/ps: the models loaded now.</summary>
    private static IResult Running(ModelRegistry models, IConfiguration configuration, IOptions<ServerOptions> options) =>
        TypedResults.Json(new JsonObject
        {
            ["models"] = new JsonArray([.. models.Specs.Where(spec => models.Loaded(spec.Id) is not null).Select(spec =>
            {
                var facts = FactsOf(spec, configuration, options.Value);
                var model = Describe(spec, facts);
                model.Remove("modified_at");
                // A model without keep_alive stays loaded: Ollama writes "forever" as a far date too.
                model["expires_at"] = DateTime.UtcNow.Add(spec.KeepAlive ?? TimeSpan.FromDays(365 * 100)).ToString("o");
                model["size_vram"] = 0;
                model["context_length"] = models.Loaded(spec.Id)!.Engine.MaxSequenceTokens;
                return (JsonNode)model;
            })]),
        }, ApiJson.Options);

    /// <summary>POST /api/show: a model's details, template, GGUF metadata and capabilities, without loading it.</summary>
    private static async Task<IResult> ShowAsync(HttpContext http, ModelRegistry models, IConfiguration configuration, IOptions<ServerOptions> options)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted, anyContentType: true);
        var name = reader.OptionalString("model") ?? reader.OptionalString("name")
                   ?? throw RequestReader.Invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter");
        var id = OllamaModels.IdOf(name, models);
        var spec = models.Specs.FirstOrDefault(s => s.Id == id) ?? throw new ApiException(ApiError.ModelNotFound(name));
        var facts = FactsOf(spec, configuration, options.Value);
        var renderer = models.Loaded(id)?.ChatRenderer;
        var template = renderer?.TemplateSource ?? facts?.ChatTemplate ?? "";
        var capabilities = new JsonArray("completion");
        if (renderer?.RendersTools ?? template.Contains("tools", StringComparison.Ordinal)) capabilities.Add("tools");
        if (ToolCalls.ReasoningSyntax.ForTemplate(template) is not null) capabilities.Add("thinking");
        var info = new JsonObject();
        if (facts is not null)
        {
            foreach (var (key, value) in facts.Metadata.Where(kv => kv.Key != "tokenizer.chat_template").OrderBy(kv => kv.Key, StringComparer.Ordinal))
                info[key] = JsonValue.Create(value);
            info["general.parameter_count"] = facts.ParameterCount;
        }
        var described = Describe(spec, facts);
        return TypedResults.Json(new JsonObject
        {
            ["modelfile"] = $"# Served by InferenceServer\nFROM {spec.LocalPath ?? spec.Hub?.ToString()}\n",
            ["parameters"] = "",
            ["template"] = template,
            ["details"] = described["details"]!.DeepClone(),
            ["model_info"] = info,
            ["capabilities"] = capabilities,
            ["modified_at"] = described["modified_at"]!.DeepClone(),
        }, ApiJson.Options);
    }

    private static JsonObject Describe(ModelSpec spec, ModelFacts? facts)
    {
        var name = OllamaModels.NameOf(spec.Id);
        return new JsonObject
        {
            ["name"] = name,
            ["model"] = name,
            ["modified_at"] = (facts?.ModifiedUtc ?? DateTime.UnixEpoch).ToString("o"),
            ["size"] = facts?.SizeBytes ?? 0,
            ["digest"] = facts?.Digest ?? "",
            ["details"] = new JsonObject
            {
                ["parent_model"] = "",
                ["format"] = "gguf",
                ["family"] = facts?.Family ?? "unknown",
                ["families"] = new JsonArray(facts?.Family ?? "unknown"),
                ["parameter_size"] = facts?.ParameterSize ?? "",
                ["quantization_level"] = facts?.QuantizationLevel ?? "",
            },
        };
    }

    /// <summary>The facts of a model's file: a local path, or a hub file in the cache (none before it is downloaded).</summary>
    private static ModelFacts? FactsOf(ModelSpec spec, IConfiguration configuration, ServerOptions options)
    {
        if (spec.LocalPath is { } path) return ModelFacts.Of(path);
        using var handler = HubDownloader.CreateHandler();
        return ModelFacts.Of(new HubDownloader(HubSettings.From(configuration, options.ModelCache), handler, DownloadProgress.For(NullLogger.Instance)).CachePath(spec.Hub!));
    }

    private static async Task<ResolvedRequest> ResolveAsync(HttpContext http, RequestResolver resolver, ModelRegistry models, string name) =>
        await resolver.ResolveAsync(http, ModelReader(models, name));

    /// <summary>A body holding only the model's id, for the resolver.</summary>
    private static RequestReader ModelReader(ModelRegistry models, string name) => new(new JsonObject { ["model"] = OllamaModels.IdOf(name, models) });

    /// <summary>Chat's parameter names in errors become Ollama's (options.num_predict, format).</summary>
    private static T Renamed<T>(Func<T> read) => ParamNames.Renamed(read, param => param switch
    {
        "max_tokens" => "options.num_predict",
        "repetition_penalty" => "options.repeat_penalty",
        "temperature" or "top_k" or "top_p" or "min_p" or "seed" or "presence_penalty" or "frequency_penalty" or "stop" => $"options.{param}",
        _ when param.StartsWith("response_format", StringComparison.Ordinal) => "format" + param["response_format".Length..].Replace(".json_schema.schema", "", StringComparison.Ordinal),
        _ => param,
    });

    public static long Nanoseconds(TimeSpan span) => span.Ticks * 100;

    /// <summary>Newline-delimited JSON, flushed line by line (Ollama's streaming).</summary>
    private sealed class NdjsonResult(IAsyncEnumerable<JsonObject> lines) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            http.Response.ContentType = "application/x-ndjson";
            try
            {
                await foreach (var line in lines.WithCancellation(http.RequestAborted))
                {
                    await http.Response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes(line.ToJsonString(ApiJson.Options) + "\n"), http.RequestAborted);
                    await http.Response.Body.FlushAsync(http.RequestAborted);
                }
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                // The client went away; the engine request is cancelled with it.
            }
        }
    }
}
