using InferenceServer.Engine;

namespace InferenceServer;

/// <summary>Server settings, bound from the "Server" configuration section (appsettings.json, Server__* variables, command line).</summary>
public sealed class ServerOptions
{
    public const string Section = "Server";

    /// <summary>Path of the GGUF model file, or hf://OWNER/REPO/FILE.gguf to download; none = the default model.</summary>
    public string? Model { get; set; }

    /// <summary>Several models, each with its own id and settings (repeated -m ID=PATH,...); empty = the one model above.</summary>
    public List<ModelEntryOptions> Models { get; set; } = [];

    /// <summary>Most memory the loaded models may take (estimated: GGUF file plus KV cache), as bytes or with K/M/G; none = no limit.</summary>
    public string? ModelsMemoryBudget { get; set; }

    /// <summary>Longest a request waits for its model to load before it gets 503 with Retry-After.</summary>
    public double ModelLoadWaitSeconds { get; set; } = 60;

    /// <summary>Hugging Face repository (OWNER/REPO) to download <see cref="HfFile"/> from.</summary>
    public string? HfRepo { get; set; }

    /// <summary>GGUF file in <see cref="HfRepo"/>.</summary>
    public string? HfFile { get; set; }

    /// <summary>Folder for downloaded models; null = $XDG_CACHE_HOME/inferenceserver/models (~/.cache/...).</summary>
    public string? ModelCache { get; set; }

    /// <summary>Folder holding libllama.so and libggml*.so to load instead of LLamaSharp's packaged ones.</summary>
    public string? NativeLibDir { get; set; }

    /// <summary>Model layers to offload to the GPU (needs a GPU build); 0 = CPU only.</summary>
    public int GpuLayers { get; set; }

    /// <summary>The id clients use in "model"; defaults to the file name without ".gguf".</summary>
    public string? ModelId { get; set; }

    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 8080;

    /// <summary>Total KV cells shared by all sequences; 0 = min(trained context, 4096) × Parallel.</summary>
    public int ContextSize { get; set; }

    /// <summary>Most sequences decoding at once.</summary>
    public int Parallel { get; set; } = 8;

    /// <summary>CPU threads for decoding; 0 = all cores.</summary>
    public int Threads { get; set; }

    /// <summary>Most tokens in one decode step (running tokens plus prompt chunks).</summary>
    public int BatchSize { get; set; } = 512;

    /// <summary>Most tokens llama.cpp computes in one pass; larger batches are split.</summary>
    public int MicroBatchSize { get; set; } = 512;

    /// <summary>The --cache-type-k value that picks the key type keeping output exact for each model.</summary>
    public const string ExactKeys = "auto";

    /// <summary>KV cache element type for keys (auto, f32, f16, bf16, q8_0, q4_0), as llama-server's --cache-type-k.</summary>
    public string CacheTypeK { get; set; } = ExactKeys;

    /// <summary>KV cache element type for values (f32, f16, bf16, q8_0, q4_0), as llama-server's --cache-type-v.</summary>
    public string CacheTypeV { get; set; } = "f16";

    /// <summary>Most requests waiting for a free sequence; more get 429.</summary>
    public int MaxQueue { get; set; } = 256;

    /// <summary>A Jinja chat template file, or a llama.cpp built-in template name (chatml, llama3 …), instead of the model's template.</summary>
    public string? ChatTemplate { get; set; }

    /// <summary>Turns off reuse of cached prompt prefixes (for comparisons).</summary>
    public bool NoPrefixCache { get; set; }

    /// <summary>
    /// One pool of KV cells shared by all sequences (llama.cpp's unified cache) instead of a stream per sequence:
    /// one request may use the whole context, but what else runs can change a greedy answer.
    /// </summary>
    public bool KvUnified { get; set; }

    /// <summary>Speculative decoding for every request: "ngram" (prompt lookup) or "none" (only requests' predictions are drafted).</summary>
    public string Speculative { get; set; } = "none";

    /// <summary>Most draft tokens one sequence verifies per step (1 to 62); null: 16, and 62 for a request's prediction.</summary>
    public int? DraftMax { get; set; }

    /// <summary>Speculate only while at most this many sequences decode together; 0 = never speculate.</summary>
    public int SpeculativeMaxBatch { get; set; } = SpeculationOptions.Default.MaxBatchSequences;

    /// <summary>A draft model of the first model's vocabulary (GGUF path or hf://OWNER/REPO/FILE.gguf) that drafts for every request of it.</summary>
    public string? DraftModel { get; set; }

    /// <summary>The draft model stops a draft before a token it gives less than this probability (llama-server's --draft-p-min).</summary>
    public float DraftMinP { get; set; } = 0.75f;

    /// <summary>"measured": verify drafts only as far as measured decode times say they pay; "always": verify every draft in full.</summary>
    public string SpeculativePolicy { get; set; } = "measured";

    public SpeculationOptions ToSpeculationOptions(IDraftModel? draftModel) => new()
    {
        Measured = SpeculativePolicy != "always",
        Drafter = draftModel is not null ? DraftKind.DraftModel : Speculative == "ngram" ? DraftKind.Ngram : null,
        DraftModel = draftModel,
        MaxDraftTokens = DraftMax,
        MaxBatchSequences = SpeculativeMaxBatch,
    };

    /// <summary>Longest a request may wait for a sequence before it gets 429; 0 = no limit.</summary>
    public double MaxQueueWaitSeconds { get; set; }

    /// <summary>Generated tokens per streamed text delta (the first at once); 1 = every token.</summary>
    public int StreamInterval { get; set; } = 1;

    /// <summary>LoRA adapters of the first model, loaded with it, each "NAME=PATH" or "NAME=PATH:SCALE" (SCALE: its default scale, 1 if absent).</summary>
    public List<string> Lora { get; set; } = [];

    /// <summary>Keys clients must send as "Authorization: Bearer KEY" on /v1 routes; none (and no file) = open.</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Keys that may also load and unload adapters; when any is set, other keys may not.</summary>
    public List<string> AdminApiKeys { get; set; } = [];

    /// <summary>Keys that may scrape /metrics (as may admin keys); none = /metrics is open.</summary>
    public List<string> MetricsApiKeys { get; set; } = [];

    /// <summary>A file of further API keys, one per line (blank lines and lines starting with # are skipped).</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Requests per minute per API key (or for everyone when no keys are set); 0 = no limit.</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>Prompt tokens plus max_tokens per minute per API key; 0 = no limit.</summary>
    public int TokensPerMinute { get; set; }

    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    public int MaxMessages { get; set; } = 1024;

    /// <summary>Longest prompt in tokens; 0 = whatever fits the context.</summary>
    public int MaxPromptTokens { get; set; }

    /// <summary>Most tokens one request may generate (a larger max_tokens gets 400, an absent one is capped); 0 = the context.</summary>
    public int MaxCompletionTokens { get; set; }

    /// <summary>"auto": thinking models' reasoning is split from the answer (reasoning_content, reasoning items); "none": left inline.</summary>
    public string ReasoningFormat { get; set; } = "auto";

    /// <summary>Most stored responses (POST /v1/responses with store); the least recently used go first.</summary>
    public int ResponsesStoreMaxItems { get; set; } = 1000;

    /// <summary>Most bytes of stored responses (their JSON, input items and conversation).</summary>
    public long ResponsesStoreMaxBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>On SIGTERM/SIGINT, how long in-flight requests may run before the server exits anyway.</summary>
    public double DrainTimeoutSeconds { get; set; } = 30;

    /// <summary>"text" or "json" console logs.</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>Log request bodies and completion text (off by default: prompts are the users' data).</summary>
    public bool LogPrompts { get; set; }

    /// <summary>Do not serve the web playground at /.</summary>
    public bool NoWebUi { get; set; }

    /// <summary>When no model is given and the default can be neither found in the cache nor downloaded, exit (code 2) instead of serving the built-in demo model.</summary>
    public bool NoDemoModel { get; set; }

    /// <summary>True when no model is named at all, so the server serves the default model.</summary>
    public bool UsesDefaultModel => Models.Count == 0 && string.IsNullOrWhiteSpace(Model) && string.IsNullOrWhiteSpace(HfRepo);


    // Blank counts as unset: compose and Kubernetes pass empty Server__* variables for settings left at their default.
    public string ResolvedModelId => !string.IsNullOrWhiteSpace(ModelId) ? ModelId : Path.GetFileNameWithoutExtension(
        !string.IsNullOrWhiteSpace(HfFile) ? HfFile : !string.IsNullOrWhiteSpace(Model) ? Model : ModelDownload.HubFile.Default.File);
}

/// <summary>One of several served models (the "Server:Models" list); unset numbers take the server-wide settings.</summary>
public sealed class ModelEntryOptions
{
    /// <summary>The id clients send as "model"; defaults to the file name without ".gguf".</summary>
    public string? Id { get; set; }

    /// <summary>GGUF file, or hf://OWNER/REPO/FILE.gguf to download.</summary>
    public string? Path { get; set; }

    /// <summary>KV cells of this model's context; 0 = the server's --ctx-size.</summary>
    public int ContextSize { get; set; }

    /// <summary>Most sequences of this model decoding at once; 0 = the server's --parallel.</summary>
    public int Parallel { get; set; }

    /// <summary>How long the model stays loaded after its last request (30s, 5m, 1h, seconds; -1 = forever); none = forever, or 5m when on demand.</summary>
    public string? KeepAlive { get; set; }

    /// <summary>Loaded by its first request instead of at start.</summary>
    public bool OnDemand { get; set; }

    /// <summary>This model's chat template (as --chat-template); none = the server's.</summary>
    public string? ChatTemplate { get; set; }
}
