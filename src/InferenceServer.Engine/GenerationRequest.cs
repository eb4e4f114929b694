namespace InferenceServer.Engine;

/// <summary>A tokenized request for the engine. Validation (lengths, vocabulary) happened before it was built.</summary>
public sealed record GenerationRequest(
    string Id,
    int[] PromptTokens,
    int MaxNewTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> StopSequences);

public enum FinishReason { Stop, Length, Cancelled }

/// <summary>What a request's output stream carries.</summary>
public abstract record GenerationEvent;

/// <summary>Text that is final (never retracted): stop sequences already removed, characters never split.</summary>
public sealed record TextDelta(string Text) : GenerationEvent;

public sealed record GenerationFinished(FinishReason Reason, int PromptTokens, int CompletionTokens) : GenerationEvent;
