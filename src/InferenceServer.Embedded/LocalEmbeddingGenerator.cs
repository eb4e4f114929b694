using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Api;
using Microsoft.Extensions.AI;

namespace InferenceServer.Embedded;

/// <summary>
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> on a loaded model: inputs are checked and tokenized by the
/// server's own code (<see cref="EmbeddingInputs"/>) and embedded in as few decodes as fit, L2-normalised. Thread-safe.
/// </summary>
internal sealed class LocalEmbeddingGenerator(LocalInference host, string defaultModelId) : IEmbeddingGenerator<string, Embedding<float>>
{
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        if (texts.Count == 0) return [];
        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? defaultModelId,
            ["input"] = new JsonArray([.. texts.Select(t => (JsonNode?)t)]),
        };
        if (options?.Dimensions is { } dimensions) body["dimensions"] = dimensions;
        IReadOnlyList<float[]> vectors;
        List<int[]> inputs;
        ServedModel model;
        try
        {
            var reader = new RequestReader(ChatRequestMapping.Parsed(body));
            var resolved = host.ResolveBase(reader);
            model = resolved.Model;
            inputs = EmbeddingInputs.Read(reader, resolved);
        }
        catch (ApiException ex)
        {
            throw LocalInferenceErrors.From(ex);
        }
        vectors = await model.Embeddings.EmbedAsync(inputs, cancellationToken);
        var created = DateTimeOffset.UtcNow;
        var tokens = inputs.Sum(i => i.Length);
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = model.Id, CreatedAt = created }))
        {
            Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens },
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("InferenceServer", null, defaultModelId, host.Model(DefaultBase).Embeddings.Dimensions)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(LocalInference) ? host
        : null;

    private string DefaultBase => AdapterSelection.SplitModelName(defaultModelId, id => host.ModelIds.Contains(id)).ModelId;

    public void Dispose()
    {
    }
}
