using System.Threading.Channels;

namespace InferenceServer.Engine;

internal enum SequenceStatus { Waiting, Prefilling, Decoding, Finished }

/// <summary>
/// One request's life in the engine. Mutated only on the engine loop's thread, except
/// <see cref="CancelRequested"/>, which any thread may set.
/// </summary>
internal sealed class Sequence(GenerationRequest request)
{
    public GenerationRequest Request { get; } = request;

    /// <summary>Cells for the prompt and every token the request may generate.</summary>
    public int TotalCells => Request.PromptTokens.Length + Request.MaxNewTokens;

    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public SequenceSlot Slot { get; set; }

    /// <summary>How many prompt tokens have been sent to a decode.</summary>
    public int PromptCursor { get; set; }

    /// <summary>The KV position of the next token fed to the model.</summary>
    public int NextPosition { get; set; }

    /// <summary>The last sampled token, fed to the next decode.</summary>
    public int PendingToken { get; set; } = -1;

    public int GeneratedTokens { get; set; }

    /// <summary>Every token whose KV this sequence holds, in position order: the prompt as far as fed, then fed generated tokens.</summary>
    public List<int> FedTokens { get; } = [];

    /// <summary>Prompt tokens whose KV came from the prefix cache instead of a decode.</summary>
    public int CachedTokens { get; set; }

    /// <summary>Cells still held back for this sequence alone (the rest are shared through the prefix cache).</summary>
    public int PrivateReservation { get; set; }

    /// <summary>The prefix-cache path this sequence keeps locked while it runs.</summary>
    public PrefixCache.CachePath CachePath { get; set; } = PrefixCache.CachePath.Empty;

    // Timestamps from the engine's TimeProvider; 0 = not yet.
    public long SubmittedAt { get; set; }
    public long AdmittedAt { get; set; }
    public long FirstTokenAt { get; set; }
    public long LastTokenAt { get; set; }

    /// <summary>When the request was submitted, by the engine's deadline clock (for the queue-wait limit).</summary>
    public long QueuedAt { get; init; }

    public volatile bool CancelRequested;

    // Engine-loop resources, created at admission.
    /// <summary>Logprobs of generated tokens whose text has not been sent yet (held by the decoder or the stop matcher).</summary>
    public List<TokenLogprob>? HeldLogprobs { get; set; }

    /// <summary>Text ready to send but held for <see cref="EngineOptions.StreamInterval"/>, its tokens' logprobs, and how many tokens had been generated when text was last sent.</summary>
    public System.Text.StringBuilder Unsent { get; } = new();
    public List<TokenLogprob>? UnsentLogprobs { get; set; }
    public int SentAtToken { get; set; }

    /// <summary>Logprobs of the prompt tokens computed so far, when the request asked for them.</summary>
    public List<TokenLogprob>? PromptLogprobs { get; set; }

    public ITokenSampler? Sampler { get; set; }

    /// <summary>Its drafting, when something drafts for it (speculative decoding).</summary>
    public SpeculationState? Speculation { get; set; }
    public ITokenTextDecoder? Decoder { get; set; }
    public StopMatcher? Stops { get; set; }
    public ChannelWriter<GenerationEvent>? Output { get; set; }
    public CancellationTokenRegistration CancelRegistration { get; set; }

    public int PromptLength => Request.PromptTokens.Length;
}
