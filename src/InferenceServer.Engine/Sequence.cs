using System.Threading.Channels;

namespace InferenceServer.Engine;

internal enum SequenceStatus { Waiting, Prefilling, Decoding, Finished }

/// <summary>
/// One request's life in the engine. Mutated only on the engine loop's thread, except
/// <see cref="CancelRequested"/>, which any thread may set.
/// </summary>
internal sealed class Sequence(GenerationRequest request, int reservedCells)
{
    public GenerationRequest Request { get; } = request;

    /// <summary>KV cells held back for this request's prompt and every token it may generate.</summary>
    public int ReservedCells { get; } = reservedCells;

    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public SequenceSlot Slot { get; set; }

    /// <summary>How many prompt tokens have been sent to a decode.</summary>
    public int PromptCursor { get; set; }

    /// <summary>The KV position of the next token fed to the model.</summary>
    public int NextPosition { get; set; }

    /// <summary>The last sampled token, fed to the next decode.</summary>
    public int PendingToken { get; set; } = -1;

    public int GeneratedTokens { get; set; }

    // Timestamps from the engine's TimeProvider; 0 = not yet.
    public long SubmittedAt { get; set; }
    public long AdmittedAt { get; set; }
    public long FirstTokenAt { get; set; }
    public long LastTokenAt { get; set; }

    public volatile bool CancelRequested;

    // Engine-loop resources, created at admission.
    public ITokenSampler? Sampler { get; set; }
    public ITokenTextDecoder? Decoder { get; set; }
    public StopMatcher? Stops { get; set; }
    public ChannelWriter<GenerationEvent>? Output { get; set; }
    public CancellationTokenRegistration CancelRegistration { get; set; }

    public int PromptLength => Request.PromptTokens.Length;
}
