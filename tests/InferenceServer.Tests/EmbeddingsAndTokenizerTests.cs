using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

[Collection(ServerCollection.Name)]
public class EmbeddingsAndTokenizerTests(ServerFixture server)
{
    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    [Fact]
    public async Task Embeddings_come_back_normalised_for_a_batch_through_the_sdk()
    {
        var client = server.OpenAI().GetEmbeddingClient(ServerFixture.ModelId);
        string[] inputs = ["The cat sat on the mat.", "The dog ran in the park.", "The cat sat on the mat."];
        var result = (await client.GenerateEmbeddingsAsync(inputs)).Value;

        Assert.Equal(3, result.Count);
        var vectors = result.OrderBy(e => e.Index).Select(e => e.ToFloats().ToArray()).ToList();
        Assert.All(vectors, v => Assert.Equal(128, v.Length));
        Assert.All(vectors, v => Assert.InRange(Dot(v, v), 0.999, 1.001));
        Assert.InRange(Dot(vectors[0], vectors[2]), 0.9999, 1.0001); // same text, same vector, batched or not
        Assert.True(Dot(vectors[0], vectors[1]) < 0.9999);
        Assert.True(result.Usage.InputTokenCount > 10);
    }

    [Fact]
    public async Task A_batched_embedding_equals_the_same_input_embedded_alone()
    {
        var client = server.OpenAI().GetEmbeddingClient(ServerFixture.ModelId);
        var alone = (await client.GenerateEmbeddingAsync("A little bird sang.")).Value.ToFloats().ToArray();
        var batched = (await client.GenerateEmbeddingsAsync(["Hello there.", "A little bird sang."])).Value.Single(e => e.Index == 1).ToFloats().ToArray();
        Assert.InRange(Dot(alone, batched), 0.9999, 1.0001);
    }

    [Fact]
    public async Task Base64_and_token_inputs_and_bad_dimensions()
    {
        var tokens = server.Model.Tokenizer.Tokenize("The sun is hot.", addBos: true, parseSpecial: true);
        using var asBase64 = await server.Http.PostAsJsonAsync("v1/embeddings", new { model = ServerFixture.ModelId, input = new[] { tokens }, encoding_format = "base64" });
        var json = JsonNode.Parse(await asBase64.Content.ReadAsStringAsync())!;
        var bytes = Convert.FromBase64String((string)json["data"]![0]!["embedding"]!);
        var fromTokens = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        var fromText = (await server.OpenAI().GetEmbeddingClient(ServerFixture.ModelId).GenerateEmbeddingAsync("The sun is hot.")).Value.ToFloats().ToArray();
        Assert.InRange(Dot(fromTokens, fromText), 0.9999, 1.0001);

        var wrongDimensions = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.OpenAI().GetEmbeddingClient(ServerFixture.ModelId).GenerateEmbeddingAsync("x", new OpenAI.Embeddings.EmbeddingGenerationOptions { Dimensions = 64 }));
        Assert.Equal(400, wrongDimensions.Status);

        using var badToken = await server.Http.PostAsJsonAsync("v1/embeddings", new { model = ServerFixture.ModelId, input = new[] { 1, 99999 } });
        Assert.Equal(400, (int)badToken.StatusCode);
        Assert.Equal("input[1]", (string?)JsonNode.Parse(await badToken.Content.ReadAsStringAsync())!["error"]!["param"]);
    }

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip()
    {
        using var tokenized = await server.Http.PostAsJsonAsync("tokenize", new { content = "Once upon a time", with_pieces = true });
        var pieces = JsonNode.Parse(await tokenized.Content.ReadAsStringAsync())!["tokens"]!.AsArray();
        Assert.True(pieces.Count >= 3);
        Assert.Equal("Once upon a time", string.Concat(pieces.Select(p => (string)p!["piece"]!)).Trim());

        var ids = pieces.Select(p => (int)p!["id"]!).ToArray();
        using var detokenized = await server.Http.PostAsJsonAsync("detokenize", new { tokens = ids });
        Assert.Equal("Once upon a time", ((string)JsonNode.Parse(await detokenized.Content.ReadAsStringAsync())!["content"]!).Trim());

        using var withBos = await server.Http.PostAsJsonAsync("tokenize", new { content = "Once upon a time", add_special = true });
        Assert.Equal(ids.Length + 1, JsonNode.Parse(await withBos.Content.ReadAsStringAsync())!["tokens"]!.AsArray().Count);

        using var unencodable = await server.Http.PostAsJsonAsync("tokenize", new { content = "{x}" });
        Assert.Equal(400, (int)unencodable.StatusCode);
    }
}
