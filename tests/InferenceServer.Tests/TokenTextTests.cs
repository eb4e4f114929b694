using System.Net.Http.Json;
using InferenceServer.Api;

namespace InferenceServer.Tests;

/// <summary>How single tokens are shown: text, or bytes when a byte-fallback token holds part of a character.</summary>
public class TokenTextTests
{
    [Fact]
    public void A_whole_character_is_text_and_part_of_one_is_shown_as_its_bytes()
    {
        Assert.Equal(" café", TokenText.Label(" café"u8.ToArray()));
        // The first two of the three bytes of '€' (E2 82 AC).
        Assert.Equal("bytes:\\xe2\\x82", TokenText.Label([0xE2, 0x82]));
        Assert.Null(TokenText.Text([0xE2, 0x82]));
    }
}

/// <summary>On stories260K, whose vocabulary has byte-fallback tokens.</summary>
[Collection(ToolServerCollection.Name)]
public class ByteTokenTests(ToolServerFixture server)
{
    [Fact]
    public async Task Tokenize_shows_a_byte_token_as_its_bytes_and_logprobs_label_it_bytes()
    {
        // stories260K has no tokens for these characters: each is spelled with byte-fallback tokens.
        var tokens = server.Model.Tokenizer.Tokenize("中ж", addBos: false, parseSpecial: false);
        var pieces = tokens.Select(t => TokenText.Piece(server.Model.Tokenizer, t)).ToList();
        Assert.Contains(pieces, p => p is int[]);

        using var response = await server.Http.PostAsJsonAsync("tokenize", new { content = "中ж", with_pieces = true });
        var json = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Contains(json["tokens"]!.AsArray(), t => t!["piece"] is System.Text.Json.Nodes.JsonArray);
        Assert.Contains(tokens, t => TokenText.Label(server.Model.Tokenizer.PieceBytes(t)).StartsWith("bytes:\\x", StringComparison.Ordinal));
    }
}
