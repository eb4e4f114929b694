using System.Text;

namespace InferenceServer;

/// <summary>
/// Maps the server's command-line flags onto configuration keys, so the same settings work from
/// appsettings.json, environment variables (Server__Port) and flags, with flags winning.
/// </summary>
internal static class CommandLine
{
    /// <summary>A flag; a <paramref name="Repeatable"/> one collects its values into a list, a switch (empty Value) takes none.</summary>
    private sealed record Flag(string[] Names, string Key, string Value, string Help, string Default, bool Repeatable = false)
    {
        public bool IsSwitch => Value.Length == 0;
    }

    private static readonly Flag[] Flags =
    [
        new(["-m", "--model"], "Model", "PATH", "GGUF model file, or hf://OWNER/REPO/FILE.gguf to download; repeat as -m ID=PATH[,ctx=N,parallel=N,keep_alive=5m,on_demand,chat_template=T] to serve several", ModelDownload.HubFile.Default.ToString()),
        new(["--hf-repo"], "HfRepo", "OWNER/REPO", "Hugging Face repository to download --hf-file from", "none"),
        new(["--hf-file"], "HfFile", "FILE", "GGUF file in --hf-repo", "none"),
        new(["--model-cache"], "ModelCache", "DIR", "folder for downloaded models", "~/.cache/inferenceserver/models"),
        new(["--model-id"], "ModelId", "ID", "model id that clients send in \"model\"", "file name without .gguf"),
        new(["--models-memory-budget"], "ModelsMemoryBudget", "BYTES", "most memory loaded models may take (file + KV, e.g. 8G); the least recently used idle one is unloaded", "no limit"),
        new(["--model-load-wait"], "ModelLoadWaitSeconds", "SECONDS", "longest a request waits for its model to load before 503", "60"),
        new(["--host"], "Host", "ADDRESS", "address to listen on", "127.0.0.1"),
        new(["--port"], "Port", "PORT", "port to listen on", "8080"),
        new(["-c", "--ctx-size"], "ContextSize", "N", "total KV cells, split evenly between the sequences (one pool with --kv-unified)", "min(trained context, 4096) x parallel"),
        new(["-np", "--parallel"], "Parallel", "N", "most sequences decoding at once", "8"),
        new(["-t", "--threads"], "Threads", "N", "CPU threads", "all cores"),
        new(["-b", "--batch-size"], "BatchSize", "N", "most tokens in one decode step", "512"),
        new(["-ub", "--ubatch-size"], "MicroBatchSize", "N", "most tokens llama.cpp computes in one pass", "512"),
        new(["-ctk", "--cache-type-k"], "CacheTypeK", "TYPE", "KV cache element type for keys: f32, f16, q8_0, q4_0 (quantised halves or quarters the KV memory)", "f16"),
        new(["-ctv", "--cache-type-v"], "CacheTypeV", "TYPE", "KV cache element type for values: f32, f16, q8_0, q4_0 (quantised turns flash attention on)", "f16"),
        new(["--max-queue"], "MaxQueue", "N", "most requests waiting for a sequence before 429", "256"),
        new(["-ngl", "--n-gpu-layers"], "GpuLayers", "N", "model layers to offload to the GPU (GPU build only)", "0"),
        new(["--native-lib-dir"], "NativeLibDir", "DIR", "load libllama.so/libggml*.so from DIR instead of the packaged ones", "packaged"),
        new(["--no-prefix-cache"], "NoPrefixCache", "", "do not reuse cached prompt prefixes", "reuse them"),
        new(["-kvu", "--kv-unified"], "KvUnified", "", "one pool of KV cells for all sequences: a request may use the whole context, but load can change a greedy answer", "a stream per sequence: exact"),
        new(["--speculative"], "Speculative", "ngram|none", "draft every request by prompt lookup (predictions in requests are drafted either way)", "none"),
        new(["--draft-max"], "DraftMax", "N", "most draft tokens one sequence verifies per step (1-62)", "16"),
        new(["--draft-model"], "DraftModel", "PATH", "a small model of the same vocabulary that drafts for the first model (GGUF path or hf://OWNER/REPO/FILE.gguf)", "none"),
        new(["--draft-min-p"], "DraftMinP", "P", "the draft model stops a draft before a token it gives less than this probability", "0.75"),
        new(["--speculative-policy"], "SpeculativePolicy", "measured|always", "verify drafts only as far as measured decode times say they pay, or always in full", "measured"),
        new(["--speculative-max-batch"], "SpeculativeMaxBatch", "N", "speculate only while at most N sequences decode together; 0 = never", "4"),
        new(["--max-queue-wait"], "MaxQueueWaitSeconds", "SECONDS", "longest wait for a sequence before 429; 0 = no limit", "0"),
        new(["--lora"], "Lora", "NAME=PATH[:SCALE]", "a LoRA adapter GGUF requests may choose, with its default scale (repeatable)", "none", Repeatable: true),
        new(["--api-key"], "ApiKeys", "KEY", "a key clients must send as 'Authorization: Bearer KEY' on /v1 (repeatable)", "none: open", Repeatable: true),
        new(["--admin-api-key"], "AdminApiKeys", "KEY", "a key that may also load and unload adapters; when set, other keys may not (repeatable)", "none: any key may", Repeatable: true),
        new(["--metrics-api-key"], "MetricsApiKeys", "KEY", "a key /metrics needs as 'Authorization: Bearer KEY' (an admin key works too) (repeatable)", "none: open", Repeatable: true),
        new(["--api-key-file"], "ApiKeyFile", "PATH", "a file of API keys, one per line", "none"),
        new(["--rate-limit-rpm"], "RequestsPerMinute", "N", "requests per minute per API key; 0 = no limit", "0"),
        new(["--rate-limit-tpm"], "TokensPerMinute", "N", "prompt + max_tokens per minute per API key; 0 = no limit", "0"),
        new(["--max-body-bytes"], "MaxRequestBodyBytes", "N", "largest request body (413 beyond)", "4194304"),
        new(["--max-messages"], "MaxMessages", "N", "most messages in one chat request", "1024"),
        new(["--max-prompt-tokens"], "MaxPromptTokens", "N", "longest prompt in tokens; 0 = the context", "0"),
        new(["--max-completion-tokens"], "MaxCompletionTokens", "N", "most tokens one request may generate; 0 = the context", "0"),
        new(["--reasoning-format"], "ReasoningFormat", "auto|none", "split thinking models' reasoning from the answer, or leave it inline", "auto"),
        new(["--responses-store-items"], "ResponsesStoreMaxItems", "N", "most stored /v1/responses responses (least recently used out)", "1000"),
        new(["--responses-store-bytes"], "ResponsesStoreMaxBytes", "N", "most bytes of stored /v1/responses responses", "67108864"),
        new(["--drain-timeout"], "DrainTimeoutSeconds", "SECONDS", "on SIGTERM/SIGINT, how long in-flight requests may finish", "30"),
        new(["--log-format"], "LogFormat", "text|json", "console log format", "text"),
        new(["--log-prompts"], "LogPrompts", "", "log request bodies and completion text", "off"),
        new(["--no-webui"], "NoWebUi", "", "do not serve the web playground at /", "serve it"),
        new(["--no-demo-model"], "NoDemoModel", "", "with no -m, exit (code 2) when the default model cannot be downloaded, instead of serving the built-in demo model", "serve the demo model"),
        new(["--chat-template"], "ChatTemplate", "NAME|FILE", "Jinja template file, or llama.cpp built-in name (chatml, llama3 ...)", "the model's own, else chatml"),
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
