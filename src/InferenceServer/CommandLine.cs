using System.Text;

namespace InferenceServer;

/// <summary>
/// Maps the server's command-line flags onto configuration keys, so the same settings work from
/// appsettings.json, environment variables (Server__Port) and flags, with flags winning.
/// </summary>
internal static class CommandLine
{
    /// <summary>
    /// A flag; a <paramref name="Repeatable"/> one collects its values into a list, a switch (empty Value) takes none.
    /// <paramref name="Help"/> and <paramref name="Default"/> are what --help prints; <paramref name="Docs"/> and
    /// <paramref name="DocsDefault"/> (Markdown, when they say more) are docs/configuration.md's, which <see cref="Reference"/> writes.
    /// </summary>
    private sealed record Flag(string[] Names, string Key, string Value, string Help, string Default, bool Repeatable = false,
        string? Docs = null, string? DocsDefault = null)
    {
        public bool IsSwitch => Value.Length == 0;
    }

    private static readonly Flag[] Flags =
    [
        new(["-m", "--model"], "Model", "PATH", "GGUF model file, or hf://OWNER/REPO/FILE.gguf to download; repeat as -m ID=PATH[,ctx=N,parallel=N,keep_alive=5m,on_demand,chat_template=T] to serve several", ModelDownload.HubFile.Default.ToString(),
            Docs: "GGUF model file, or `hf://OWNER/REPO/FILE.gguf` to download; repeat as `-m ID=PATH[,…]` to serve several (see [Several models](models.md#several-models))"),
        new(["--hf-repo"], "HfRepo", "OWNER/REPO", "Hugging Face repository to download --hf-file from", "none"),
        new(["--hf-file"], "HfFile", "FILE", "GGUF file in --hf-repo", "none"),
        new(["--model-cache"], "ModelCache", "DIR", "folder for downloaded models", "~/.cache/inferenceserver/models",
            Docs: "folder for downloaded models"),
        new(["--model-id"], "ModelId", "ID", "model id that clients send in \"model\"", "file name without .gguf",
            Docs: "the id clients send as `model`"),
        new(["--models-memory-budget"], "ModelsMemoryBudget", "BYTES", "most memory loaded models may take (file + KV, e.g. 8G); the least recently used idle one is unloaded", "no limit",
            DocsDefault: "none", Docs: "most memory the loaded models may take (estimated), as bytes or `512M`, `8G`; least recently used idle models are unloaded to fit"),
        new(["--model-load-wait"], "ModelLoadWaitSeconds", "SECONDS", "longest a request waits for its model to load before 503", "60",
            Docs: "longest a request waits for its model to load; then 503 `model_loading` with `Retry-After`"),
        new(["--host"], "Host", "ADDRESS", "address to listen on", "127.0.0.1",
            Docs: "address to listen on"),
        new(["--port"], "Port", "PORT", "port to listen on", "8080",
            Docs: "port to listen on"),
        new(["-c", "--ctx-size"], "ContextSize", "N", "total KV cells, split evenly between the sequences (one pool with --kv-unified)", "min(trained context, 4096) x parallel",
            DocsDefault: "min(trained context, 4096) × parallel", Docs: "KV cells, split evenly between the sequences (with `--kv-unified`, one pool they share)"),
        new(["-np", "--parallel"], "Parallel", "N", "most sequences decoding at once", "8",
            Docs: "most sequences decoding at once"),
        new(["-t", "--threads"], "Threads", "N", "CPU threads", "all cores",
            Docs: "CPU threads"),
        new(["-b", "--batch-size"], "BatchSize", "N", "most tokens in one decode step", "512",
            Docs: "most tokens in one decode step; also caps llama.cpp sequence ids (256 at most), so below 256 fewer prefix-cache entries fit (ids left after `--parallel`)"),
        new(["-ub", "--ubatch-size"], "MicroBatchSize", "N", "most tokens llama.cpp computes in one pass", "512",
            Docs: "most tokens llama.cpp computes in one pass"),
        new(["-ctk", "--cache-type-k"], "CacheTypeK", "TYPE", "KV cache element type for keys: auto, f32, f16, bf16, q8_0, q4_0 (auto: q8_0, or bf16 for heads that are not a multiple of 32, which keeps greedy output independent of load)", "auto",
            Docs: "KV cache element type for keys: `auto`, `f32`, `f16`, `bf16`, `q8_0`, `q4_0` (llama-server's names). `auto` takes `q8_0` when the key head length is a multiple of 32, else `bf16` (on the CPU, for quantised weights, with f16 or f32 values; `f16` otherwise): with f16 keys and values llama.cpp's CPU attention sums a sequence decoding alone past 256 tokens in another order than one beside others or under speculative decoding, so greedy answers would depend on load (docs/determinism.md); any other pair of types is exact. Quantised types need head lengths that are multiples of 32, checked at start"),
        new(["-ctv", "--cache-type-v"], "CacheTypeV", "TYPE", "KV cache element type for values: f32, f16, bf16, q8_0, q4_0 (quantised turns flash attention on)", "f16",
            Docs: "the same for values; a quantised V cache turns flash attention on (llama.cpp needs it). `q8_0` halves the KV memory, `q4_0` takes 28% of it"),
        new(["--max-queue"], "MaxQueue", "N", "most requests waiting for a sequence before 429", "256",
            Docs: "requests that may wait for a sequence; more get 429"),
        new(["-ngl", "--n-gpu-layers"], "GpuLayers", "N", "model layers to offload to the GPU (GPU build only)", "0",
            Docs: "model layers to offload to the GPU (GPU build only)"),
        new(["--native-lib-dir"], "NativeLibDir", "DIR", "load libllama.so/libggml*.so from DIR instead of the packaged ones", "packaged",
            Docs: "load `libllama.so`/`libggml*.so` from DIR instead of LLamaSharp's"),
        new(["--no-prefix-cache"], "NoPrefixCache", "", "do not reuse cached prompt prefixes", "reuse them",
            DocsDefault: "off", Docs: "do not reuse cached prompt prefixes (for comparisons)"),
        new(["-kvu", "--kv-unified"], "KvUnified", "", "one pool of KV cells for all sequences: a request may use the whole context, but load can change a greedy answer", "a stream per sequence: exact",
            DocsDefault: "off: a KV stream per sequence, exact", Docs: "one pool of KV cells for all sequences (llama.cpp's unified cache): one request may use the whole `--ctx-size` and cached prefixes cost no copies, but what else runs can change a greedy answer ([architecture.md](architecture.md#exact-by-default-what-is-reproducible))"),
        new(["--speculative"], "Speculative", "ngram|none", "draft every request by prompt lookup (predictions in requests are drafted either way)", "none",
            Docs: "draft every request by prompt lookup (not with `--draft-model`) ([speculative-decoding.md](speculative-decoding.md)); requests' `prediction` is drafted either way"),
        new(["--draft-max"], "DraftMax", "N", "most draft tokens one sequence verifies per step (1-62)", "16, 62 for a prediction",
            DocsDefault: "`16`; `62` for a prediction", Docs: "most draft tokens one sequence verifies per step, 1–62 (its token and draft stay below 64 per decode); unset, n-gram and draft-model drafts get 16 and a request's `prediction` 62, of which the measured policy verifies only what pays"),
        new(["--draft-model"], "DraftModel", "PATH", "a small model of the same vocabulary that drafts for the first model (GGUF path or hf://OWNER/REPO/FILE.gguf)", "none",
            Docs: "a small model of the same vocabulary (GGUF or `hf://OWNER/REPO/FILE.gguf`) that drafts for every request of the first model; a vocabulary that differs stops the server at start"),
        new(["--draft-min-p"], "DraftMinP", "P", "the draft model stops a draft before a token it gives less than this probability", "0.75",
            Docs: "the draft model ends a draft before a token it gives less than this probability"),
        new(["--speculative-policy"], "SpeculativePolicy", "measured|always", "verify drafts only as far as measured decode times say they pay, or always in full", "measured",
            Docs: "`measured`: verify a draft only as far as this machine's measured decode times say it pays; `always`: verify every draft in full (llama-server's way; for GPUs, where a longer decode costs little)"),
        new(["--speculative-max-batch"], "SpeculativeMaxBatch", "N", "speculate only while at most N sequences decode together; 0 = never", "4",
            Docs: "speculate only while at most N sequences decode together (a full batch is throughput-bound); `0` = never"),
        new(["--stream-interval"], "StreamInterval", "N", "send streamed text every N generated tokens (the first at once)", "1",
            Docs: "send a stream's text every N generated tokens as one delta (the first token's at once, the rest when the request ends): fewer events for each client to parse and the server to write, where one event a token costs more than the token's decode (a tiny model, many streams); `1` sends every token as it comes ([performance.md](performance.md))"),
        new(["--max-queue-wait"], "MaxQueueWaitSeconds", "SECONDS", "longest wait for a sequence before 429; 0 = no limit", "0",
            DocsDefault: "`0` (no limit)", Docs: "longest wait for a sequence; a request waiting longer gets 429"),
        new(["--lora"], "Lora", "NAME=PATH[:SCALE]", "a LoRA adapter GGUF requests may choose, with its default scale (repeatable)", "none", Repeatable: true,
            Docs: "a LoRA adapter GGUF of the first model that requests may choose, with its default scale (1 if absent); see [LoRA adapters](lora.md)"),
        new(["--api-key"], "ApiKeys", "KEY", "a key clients must send as 'Authorization: Bearer KEY' on /v1 (repeatable)", "none: open", Repeatable: true,
            Docs: "keys clients must send as `Authorization: Bearer KEY` on `/v1/*`"),
        new(["--admin-api-key"], "AdminApiKeys", "KEY", "a key that may also load and unload adapters; when set, other keys may not (repeatable)", "none: any key may", Repeatable: true,
            DocsDefault: "none: any key may administer", Docs: "a key that is also an API key and may load and unload LoRA adapters; once one is set, other keys get 403 `admin_key_required` there"),
        new(["--metrics-api-key"], "MetricsApiKeys", "KEY", "a key /metrics needs as 'Authorization: Bearer KEY' (an admin key works too) (repeatable)", "none: open", Repeatable: true,
            DocsDefault: "none: `/metrics` is open", Docs: "a key `/metrics` needs as `Authorization: Bearer KEY` (an admin key works too; API keys do not)"),
        new(["--api-key-file"], "ApiKeyFile", "PATH", "a file of API keys, one per line", "none",
            Docs: "more keys, one per line (`#` comments and blank lines skipped)"),
        new(["--rate-limit-rpm"], "RequestsPerMinute", "N", "requests per minute per API key; 0 = no limit", "0",
            DocsDefault: "`0` (off)", Docs: "requests per minute per key (per server when no keys)"),
        new(["--rate-limit-tpm"], "TokensPerMinute", "N", "prompt + max_tokens per minute per API key; 0 = no limit", "0",
            DocsDefault: "`0` (off)", Docs: "prompt tokens + `max_tokens` (and embedding input tokens) per minute per key"),
        new(["--max-body-bytes"], "MaxRequestBodyBytes", "N", "largest request body (413 beyond)", "4194304",
            Docs: "largest request body; larger gets 413 (the rest of the body is read and dropped, so the client sees the 413, not a reset)"),
        new(["--max-messages"], "MaxMessages", "N", "most messages in one chat request", "1024",
            Docs: "most messages in one chat request; more gets 400"),
        new(["--max-prompt-tokens"], "MaxPromptTokens", "N", "longest prompt in tokens; 0 = the context", "0",
            DocsDefault: "`0` (the context)", Docs: "longest prompt; longer gets 400"),
        new(["--max-completion-tokens"], "MaxCompletionTokens", "N", "most tokens one request may generate; 0 = the context", "0",
            DocsDefault: "`0` (the context)", Docs: "most tokens per request: a larger `max_tokens` gets 400, an absent one is capped"),
        new(["--reasoning-format"], "ReasoningFormat", "auto|none", "split thinking models' reasoning from the answer, or leave it inline", "auto",
            Docs: "split thinking models' reasoning from the answer (`reasoning_content`, Responses reasoning items), or leave it inline"),
        new(["--responses-store-items"], "ResponsesStoreMaxItems", "N", "most stored /v1/responses responses (least recently used out)", "1000",
            Docs: "most stored `/v1/responses` responses (least recently used out)"),
        new(["--responses-store-bytes"], "ResponsesStoreMaxBytes", "N", "most bytes of stored /v1/responses responses", "67108864",
            Docs: "most bytes of stored responses"),
        new(["--drain-timeout"], "DrainTimeoutSeconds", "SECONDS", "on SIGTERM/SIGINT, how long in-flight requests may finish", "30",
            Docs: "on SIGTERM/SIGINT, how long in-flight requests may finish"),
        new(["--log-format"], "LogFormat", "text|json", "console log format", "text",
            Docs: "console log format (json: Serilog's compact JSON, one event a line)"),
        new(["--log-prompts"], "LogPrompts", "", "log request bodies and completion text", "off",
            Docs: "also log request bodies and completion text"),
        new(["--no-webui"], "NoWebUi", "", "do not serve the web playground at /", "serve it",
            DocsDefault: "off", Docs: "do not serve the [web playground](playground.md) at `/`"),
        new(["--no-demo-model"], "NoDemoModel", "", "with no -m, exit (code 2) when the default model cannot be downloaded, instead of serving the built-in demo model", "serve the demo model",
            DocsDefault: "off", Docs: "with no `-m`, exit with code 2 when the default model is neither cached nor downloadable, instead of serving the built-in demo model"),
        new(["--chat-template"], "ChatTemplate", "NAME|FILE", "Jinja template file, or llama.cpp built-in name (chatml, llama3 ...)", "the model's own, else chatml",
            DocsDefault: "the model's own", Docs: "a Jinja chat template file, or a llama.cpp built-in template name (`chatml`, `llama3`, `mistral-v7` …)"),
    ];

    /// <summary>Parses flags into configuration entries; returns an error message for an unknown flag or a missing value.</summary>
    public static string? TryParse(string[] args, out Dictionary<string, string?> settings, out bool helpWanted)
    {
        settings = new Dictionary<string, string?>();
        helpWanted = false;
        var models = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                helpWanted = true;
                continue;
            }
            string? inlineValue = null;
            if (arg.StartsWith("--") && arg.IndexOf('=') is var eq and > 0)
            {
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            if (arg == "--deterministic") return "Option '--deterministic' was removed: the default is now exact (a KV stream per sequence), with the prefix cache on.";
            var flag = Flags.FirstOrDefault(f => f.Names.Contains(arg));
            if (flag is null) return $"Unknown option '{arg}'. Run with --help to list the options.";
            var value = flag.IsSwitch ? inlineValue ?? "true" : inlineValue ?? (i + 1 < args.Length ? args[++i] : null);
            if (value is null) return $"Option '{arg}' needs a value ({flag.Value}).";
            if (flag.Key == "Model")
            {
                models.Add(value);
                continue;
            }
            var key = $"{ServerOptions.Section}:{flag.Key}";
            if (flag.Repeatable) key += $":{settings.Keys.Count(k => k.StartsWith(key + ":", StringComparison.Ordinal))}";
            settings[key] = value;
        }
        return AddModels(models, settings);
    }

    private static readonly Dictionary<string, string> ModelEntryKeys = new()
    {
        ["ctx"] = "ContextSize", ["parallel"] = "Parallel", ["keep_alive"] = "KeepAlive", ["on_demand"] = "OnDemand", ["chat_template"] = "ChatTemplate",
    };

    /// <summary>
    /// One plain -m PATH is the one-model setting "Model", exactly as before. Otherwise each -m is an entry of
    /// "Models": ID=PATH[,key=value...], or a plain PATH whose id is its file name. A value naming an existing
    /// file is always a plain path, whatever '=' or ',' it holds.
    /// </summary>
    private static string? AddModels(List<string> models, Dictionary<string, string?> settings)
    {
        bool IsPlain(string value) => !value.Contains('=') || File.Exists(value);
        if (models is [var single] && IsPlain(single))
        {
            settings[$"{ServerOptions.Section}:Model"] = single;
            return null;
        }
        for (var i = 0; i < models.Count; i++)
        {
            var prefix = $"{ServerOptions.Section}:Models:{i}:";
            if (IsPlain(models[i]))
            {
                settings[prefix + "Path"] = models[i];
                continue;
            }
            var parts = models[i].Split(',');
            var eq = parts[0].IndexOf('=');
            settings[prefix + "Id"] = parts[0][..eq];
            settings[prefix + "Path"] = parts[0][(eq + 1)..];
            foreach (var part in parts.Skip(1))
            {
                var (name, value) = part.IndexOf('=') is var at and >= 0 ? (part[..at], part[(at + 1)..]) : (part, "true");
                if (!ModelEntryKeys.TryGetValue(name, out var key))
                    return $"Unknown setting '{name}' in -m {models[i]}: expected {string.Join(", ", ModelEntryKeys.Keys)}.";
                settings[prefix + key] = value;
            }
        }
        return null;
    }

    /// <summary>docs/configuration.md, written from the flags (`InferenceServer --help-markdown`); a test fails when the file differs.</summary>
    public static string Reference()
    {
        static string Cell(string text) => text.Replace("|", "\\|");
        static string Literal(string value) => System.Text.RegularExpressions.Regex.IsMatch(value, @"^[\w.~/:-]+$") && value is not ("none" or "off" or "packaged")
            ? $"`{value}`"
            : value;
        var text = new StringBuilder();
        text.Append("""
            # Configuration

            <!-- Written by `dotnet run --project src/InferenceServer -- --help-markdown > docs/configuration.md` from
                 src/InferenceServer/CommandLine.cs; a test fails when this file is stale. -->

            ## Options

            `--help` prints them. Each can also be set in `appsettings.json` under `"Server"` or as an environment
            variable `Server__<Name>` (e.g. `Server__Port=9000`); flags win.

            | flag | setting | default | meaning |
            | --- | --- | --- | --- |

            """);
        foreach (var flag in Flags)
        {
            var names = string.Join(", ", flag.Names.Select((name, i) => i == flag.Names.Length - 1 && !flag.IsSwitch ? $"`{name} {flag.Value}`" : $"`{name}`"));
            if (flag.Repeatable) names += " (repeatable)";
            text.AppendLine($"| {Cell(names)} | `{flag.Key}` | {Cell(flag.DocsDefault ?? Literal(flag.Default))} | {Cell(flag.Docs ?? flag.Help)} |");
        }
        return text.ToString();
    }

    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine("Usage: InferenceServer [-m MODEL.gguf | -m hf://OWNER/REPO/FILE.gguf] [options]");
        text.AppendLine();
        text.AppendLine("An OpenAI-compatible server for GGUF models (chat and text completions, streaming).");
        text.AppendLine();
        text.AppendLine("Options:");
        foreach (var flag in Flags)
            text.AppendLine($"  {string.Join(", ", flag.Names) + " " + flag.Value,-28} {flag.Help} (default: {flag.Default})");
        text.AppendLine($"  {"-h, --help",-28} show this help");
        text.AppendLine();
        text.AppendLine("Every option can also be set in appsettings.json under \"Server\" or as an environment");
        text.AppendLine("variable Server__<Name> (for example Server__Port=9000); flags win.");
        return text.ToString();
    }
}
