using InferenceServer.Contracts;
using InferenceServer.Engine;

namespace InferenceServer;

/// <summary>What the API needs from a loaded model.</summary>
public sealed record ServedModel(string Id, long CreatedUnixSeconds, InferenceEngine Engine, ITokenizer Tokenizer, IChatPromptRenderer ChatRenderer, IEmbeddingModel Embeddings, IGrammarChecker Grammars,
    IAdapterCatalog Adapters);
