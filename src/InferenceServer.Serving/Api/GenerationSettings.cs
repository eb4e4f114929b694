using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>The generation parameters shared by chat and text completions, read and range-checked.</summary>
internal sealed record GenerationSettings(
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    bool Stream,
    bool IncludeUsage,
    string CacheIsolationKey,
    bool IgnoreEos)
{
    public const int MaxStopSequences = 4;

    /// <summary>Parameters that change the output's meaning and are not served yet: refused rather than ignored.</summary>
    private static readonly string[] NotYetSupported = ["functions", "best_of", "suffix"];

    /// <summary>How many choices to generate for each prompt (OpenAI's <c>n</c>).</summary>
    public int Choices { get; init; } = 1;

    /// <summary>Log probabilities of each generated token with this many alternatives; null = not asked for.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Legacy completions: the prompt is part of each choice's text (and of its logprobs).</summary>
    public bool Echo { get; init; }

    /// <summary>Predicted Outputs: the expected completion's tokens (<see cref="PredictedOutput"/>); null = none.</summary>
    public int[]? Prediction { get; init; }

    /// <summary>False when the request opted out of speculative decoding.</summary>
    public bool Speculate { get; init; } = true;

    /// <summary>Tool-calling parameters: read by the chat endpoint, refused elsewhere.</summary>
    private static readonly string[] ToolParameters = ["tools", "tool_choice", "parallel_tool_calls"];

    public static GenerationSettings Read(RequestReader reader, string maxTokensName, int vocabularySize, bool toolsServed = false)
    {
        foreach (var name in toolsServed ? NotYetSupported : [.. NotYetSupported, .. ToolParameters])
            if (reader.Get(name) is { } value && !IsOff(value))
                throw RequestReader.Invalid(name, $"'{name}' is not supported by this server yet.", "unsupported_parameter");

        var choices = (int)(reader.OptionalInteger("n", 1, 128) ?? 1);

        var maxTokens = reader.OptionalInteger(maxTokensName, 1, int.MaxValue)
                        ?? reader.OptionalInteger("max_tokens", 1, int.MaxValue);
        var temperature = reader.OptionalNumber("temperature", 0, 2) ?? 1;
        var topP = reader.OptionalNumber("top_p", 0, 1) ?? 1;
        if (topP <= 0) throw RequestReader.Invalid("top_p", "'top_p' must be greater than 0.");
        var seed = reader.OptionalInteger("seed", long.MinValue, long.MaxValue);
        var stream = reader.OptionalBool("stream") ?? false;

        var includeUsage = false;
        switch (reader.Get("stream_options"))
        {
            case null:
                break;
            case JsonObject options when stream:
                includeUsage = new RequestReader(options).OptionalBool("include_usage") is true;
                break;
            case JsonObject:
                throw RequestReader.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");
            case var other:
                throw RequestReader.WrongType("stream_options", "an object", other);
        }

        return new GenerationSettings(
            maxTokens is null ? null : (int)maxTokens,
            new SamplingParameters((float)temperature, (float)topP, seed is { } s ? unchecked((uint)(s ^ (s >> 32))) : (uint)Random.Shared.Next())
            {
                // -1 or 0 is off (vLLM, llama-server); beyond the vocabulary it keeps every token, as they do.
                TopK = (int)(reader.OptionalInteger("top_k", -1, int.MaxValue) is { } k and > 0 ? Math.Min(k, vocabularySize) : 0),
                MinP = (float)(reader.OptionalNumber("min_p", 0, 1) ?? 0),
                FrequencyPenalty = (float)(reader.OptionalNumber("frequency_penalty", -2, 2) ?? 0),
                PresencePenalty = (float)(reader.OptionalNumber("presence_penalty", -2, 2) ?? 0),
                RepetitionPenalty = (float)(reader.OptionalNumber("repetition_penalty", 0.01, 10) ?? 1),
                LogitBias = ReadLogitBias(reader, vocabularySize),
            },
            ReadStop(reader),
            stream,
            includeUsage,
            // cache_salt (as vLLM names it) narrows prefix-cache sharing to requests with the same salt.
            reader.OptionalString("cache_salt") ?? "",
            // Extension (vLLM, llama-server): keep generating past end-of-sequence, for benchmarks.
            reader.OptionalBool("ignore_eos") ?? false) { Choices = choices };
    }

    /// <summary>Chat's <c>logprobs</c> (a switch) and <c>top_logprobs</c> (0–20 alternatives, only with logprobs on).</summary>
    public GenerationSettings WithChatLogprobs(RequestReader reader)
    {
        var top = reader.OptionalInteger("top_logprobs", 0, 20);
        if (reader.OptionalBool("logprobs") is not true)
            return top is null ? this : throw RequestReader.Invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.");
        return this with { Logprobs = (int)(top ?? 0) };
    }

    /// <summary>Legacy completions' <c>logprobs</c> (0–5 alternatives per token) and <c>echo</c>.</summary>
    public GenerationSettings WithLegacyLogprobs(RequestReader reader) =>
        this with { Logprobs = (int?)reader.OptionalInteger("logprobs", 0, 5), Echo = reader.OptionalBool("echo") ?? false };

    /// <summary>Adds the grammar of <c>response_format</c> or <c>grammar</c>, if the request has one.</summary>
    public GenerationSettings WithResponseFormat(RequestReader reader, IGrammarChecker checker) =>
        ResponseFormat.Read(reader, checker) is { } grammar ? this with { Sampling = Sampling with { Grammar = grammar } } : this;

    /// <summary>
    /// Reads <see cref="MaxTokens"/> as a ceiling rather than a demand (Anthropic's max_tokens, Ollama's num_predict:
    /// their clients ask for more than a local model's context holds): at most what fits after the prompt and the
    /// server's --max-completion-tokens. A prompt that leaves no room keeps it, for the context-length error.
    /// </summary>
    /// <param name="contextTokens">A smaller context the client asked for (Ollama's num_ctx); the model's by default.</param>
    public GenerationSettings AsCeiling(ResolvedRequest resolved, int promptTokens, int? contextTokens = null)
    {
        var room = Math.Min(contextTokens ?? int.MaxValue, resolved.Model.Engine.MaxSequenceTokens) - promptTokens;
        if (room < 1) return this;
        var limit = resolved.Limits.MaxCompletionTokens > 0 ? Math.Min(room, resolved.Limits.MaxCompletionTokens) : room;
        return this with { MaxTokens = Math.Min(MaxTokens ?? limit, limit) };
    }

    /// <summary>Checks the prompt against the context and builds the engine request.</summary>
    public GenerationRequest ToEngineRequest(string id, int[] promptTokens, int maxSequenceTokens, string promptParam)
    {
        if (promptTokens.Length == 0)
            throw RequestReader.Invalid(promptParam, "The prompt is empty.");
        var wanted = promptTokens.Length + (MaxTokens ?? 1);
        if (wanted > maxSequenceTokens)
            throw new ApiException(ApiError.BadRequest(
                $"This model's maximum context length is {maxSequenceTokens} tokens. However, you requested {wanted} tokens " +
                $"({promptTokens.Length} in the prompt, {MaxTokens ?? 1} for the completion). Please reduce the prompt or the completion length.",
                promptParam, "context_length_exceeded"));
        var maxNew = MaxTokens ?? maxSequenceTokens - promptTokens.Length;
        return new GenerationRequest(id, promptTokens, maxNew, Sampling, Stop, CacheIsolationKey, IgnoreEos)
        {
            Logprobs = Logprobs,
            PromptLogprobs = Echo && Logprobs is not null,
            Prediction = Prediction,
            Speculate = Speculate,
        };
    }

    /// <summary>OpenAI's logit_bias: token id (as a string key) → -100..100; -100 bans the token outright.</summary>
    private static Dictionary<int, float>? ReadLogitBias(RequestReader reader, int vocabularySize)
    {
        switch (reader.Get("logit_bias"))
        {
            case null:
                return null;
            case JsonObject biases:
                var result = new Dictionary<int, float>();
                foreach (var (key, value) in biases)
                {
                    var param = $"logit_bias.{key}";
                    if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var token) || token >= vocabularySize)
                        throw RequestReader.Invalid(param, $"'{key}' is not a token id of this model (0 to {vocabularySize - 1}).");
                    if (value is not JsonValue number || !number.TryGetValue(out double bias))
                        throw RequestReader.WrongType(param, "a number", value);
                    if (bias is < -100 or > 100)
                        throw RequestReader.Invalid(param, $"{bias} is out of range for a logit bias: expected -100 to 100.");
                    result[token] = bias <= -100 ? float.NegativeInfinity : (float)bias;
                }
                return result;
            case var other:
                throw RequestReader.WrongType("logit_bias", "an object mapping token ids to biases", other);
        }
    }

    private static IReadOnlyList<string> ReadStop(RequestReader reader)
    {
        var stops = reader.Get("stop") switch
        {
            null => [],
            JsonValue v when v.TryGetValue(out string? single) => [single],
            JsonArray array when array.Count <= MaxStopSequences => array.Select(item =>
                item is JsonValue v && v.TryGetValue(out string? s) ? s : throw RequestReader.WrongType("stop", "a string or an array of strings", item)).ToArray(),
            JsonArray => throw RequestReader.Invalid("stop", $"'stop' holds at most {MaxStopSequences} sequences."),
            var other => throw RequestReader.WrongType("stop", "a string or an array of strings", other),
        };
        return stops.Any(s => s.Length == 0)
            ? throw RequestReader.Invalid("stop", "Stop sequences must not be empty.")
            : stops;
    }

    /// <summary>False, 0, an empty list or response_format {"type":"text"}: what clients send to mean "not used".</summary>
    private static bool IsOff(JsonNode value) => value switch
    {
        JsonValue v => v.GetValueKind() == System.Text.Json.JsonValueKind.False || (v.TryGetValue(out double d) && d == 0),
        JsonArray array => array.Count == 0,
        JsonObject o => o["type"] is JsonValue t && t.TryGetValue(out string? type) && type == "text",
        _ => false,
    };
}
