using InferenceServer.Engine;
using InferenceServer.Operations;

namespace InferenceServer.Api;

/// <summary>The size limits a request is admitted under (0 = no limit on prompt or completion tokens).</summary>
internal sealed record RequestLimits(int MaxMessages, int MaxPromptTokens, int MaxCompletionTokens);

/// <summary>How a chat-shaped request's output is read: <paramref name="SplitReasoning"/> unless --reasoning-format none (or the request's reasoning_format) leaves thinking inline.</summary>
internal sealed record OutputPolicy(bool SplitReasoning);

/// <summary>
/// What a request resolved to, passed along its whole way instead of being looked up again: the leased model
/// (<see cref="Model"/>'s id is what the client named, <c>BASE:ADAPTER</c> included), the LoRA adapters it
/// decodes under, who sent it (the tenant whose prefix-cache entries and rate limits it uses), its limits and its
/// telemetry record. Immutable.
/// </summary>
internal sealed record ResolvedRequest(
    ServedModel Model,
    AdapterSet Adapters,
    RequestIdentity Identity,
    RequestLimits Limits,
    OutputPolicy Output,
    RequestRecord? Record,
    Action<IDisposable> DisposeAtEnd)
{
    /// <summary>llama-server's per-request reasoning_format, which overrides the default.</summary>
    public ResolvedRequest WithReasoningFormat(RequestReader reader) => reader.OptionalString("reasoning_format") switch
    {
        null => this,
        "none" => this with { Output = new OutputPolicy(false) },
        "auto" or "deepseek" => this with { Output = new OutputPolicy(true) },
        var other => throw RequestReader.Invalid("reasoning_format", $"Invalid reasoning_format '{other}': expected 'auto' or 'none'."),
    };

    /// <summary>Cached prompt prefixes are shared only among requests of one API key (and, within it, one cache_salt).</summary>
    public string CacheKey(string salt) => $"{Identity.KeyId}/{salt}";

    /// <summary>How many tokens generated text is (reasoning_tokens); text the vocabulary cannot encode counts 0 rather than reaching llama.cpp.</summary>
    public int CountTokens(string text) =>
        text.Length == 0 || Model.Tokenizer.FindUnencodable(text) is not null ? 0 : Model.Tokenizer.Tokenize(text, addBos: false, parseSpecial: true).Length;

    /// <summary>Tokenizes prompt text after checking that the vocabulary can encode it (llama.cpp aborts the process otherwise).</summary>
    public int[] Tokenize(string text, string param) =>
        Model.Tokenizer.FindUnencodable(text) is { } problem
            ? throw RequestReader.Invalid(param, problem, "unencodable_text")
            : Model.Tokenizer.Tokenize(text, addBos: true, parseSpecial: true);
}
