namespace InferenceServer.Engine;

/// <summary>
/// A small model of the target's vocabulary whose greedy continuation is the draft (llama-server's and vLLM's draft
/// model). It keeps a KV sequence per engine slot in a context of its own and decodes in the engine's step, before
/// the target's decode. Engine loop thread only.
/// </summary>
public interface IDraftModel
{
    /// <summary>
    /// For every request at once: brings the slot's draft KV to the request's history (reusing what it holds of it,
    /// removing the rest), then continues greedily, one batched decode per draft position, until a request has
    /// <see cref="DraftRequest.MaxTokens"/> tokens or its next token's probability falls below the model's min-p.
    /// </summary>
    void Draft(IReadOnlyList<DraftRequest> requests);

    /// <summary>The slot's request ended: its draft KV cells are freed.</summary>
    void Release(SequenceSlot slot);
}

/// <summary>One sequence's part of a draft-model step: its tokens so far (the one fed to the target this step last) and, after it, the draft.</summary>
public sealed class DraftRequest(SequenceSlot slot, int[] history, int maxTokens)
{
    public SequenceSlot Slot { get; } = slot;
    public int[] History { get; } = history;
    public int MaxTokens { get; } = maxTokens;
    public int[] Draft { get; set; } = [];
}
