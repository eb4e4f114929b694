using System.Runtime.InteropServices;

namespace InferenceServer.Api;

/// <summary>POST /v1/embeddings: strings or token arrays in, L2-normalised vectors out (float or base64).</summary>
internal static class EmbeddingsEndpoint
{
    public static async Task<IResult> HandleAsync(HttpContext http, RequestResolver resolver, EngineClient engine)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var resolved = await resolver.ResolveBaseAsync(http, reader);
        var model = resolved.Model;
        var inputs = EmbeddingInputs.Read(reader, resolved);

        var format = reader.OptionalString("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw RequestReader.Invalid("encoding_format", $"Invalid encoding_format '{format}': expected 'float' or 'base64'.");

        var vectors = await engine.EmbedAsync(resolved, inputs, http.RequestAborted);
        var data = vectors.Select((vector, index) => new EmbeddingObject(index,
            format == "base64" ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan())) : vector)).ToList();
        var tokens = inputs.Sum(i => i.Length);
        return ApiJson.Whole(new EmbeddingList(data, model.Id, new EmbeddingUsage(tokens, tokens)));
    }

    private sealed record EmbeddingObject(int Index, object Embedding)
    {
        [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
        public string Object => "embedding";
    }

    private sealed record EmbeddingList(IReadOnlyList<EmbeddingObject> Data, string Model, EmbeddingUsage Usage)
    {
        [System.Text.Json.Serialization.JsonPropertyOrder(-1)]
        public string Object => "list";
    }

    private sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);
}
