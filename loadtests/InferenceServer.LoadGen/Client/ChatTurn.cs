namespace InferenceServer.LoadGen.Client;

/// <summary>Which OpenAI-compatible API to drive.</summary>
internal enum EndpointKind { ChatCompletions, Completions }

/// <summary>One message of the history sent with a request.</summary>
internal sealed record ChatMessage(string Role, string Content);

/// <summary>What to send: the conversation so far (ending with the user's turn) and the output length wanted.</summary>
internal sealed record StreamingRequest(IReadOnlyList<ChatMessage> Messages, int MaxTokens, bool IgnoreEos);
