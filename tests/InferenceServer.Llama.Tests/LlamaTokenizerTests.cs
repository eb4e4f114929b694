namespace InferenceServer.Llama.Tests;

/// <summary>
/// The tokenizer names the first character a vocabulary cannot encode, so the server answers 400 instead of letting
/// llama.cpp throw a C++ exception that aborts the process (TinyStories-656K has no byte fallback).
/// </summary>
[Collection(TinyModelsCollection.Name)]
public sealed class LlamaTokenizerTests(TinyModels models)
{
    [Theory]
    [InlineData("Once upon a {time}", '{', 12)]
    [InlineData("a café", 'é', 5)]
    [InlineData("x = y", '=', 2)]
    public void Without_byte_fallback_the_first_character_the_vocabulary_lacks_is_named_with_its_position(string text, char missing, int index)
    {
        var problem = new LlamaTokenizer(models.TinyStories).FindUnencodable(text);

        Assert.NotNull(problem);
        Assert.Contains($"'{missing}' (U+{(int)missing:X4}) at character {index}", problem);
    }

    [Fact]
    public void A_character_outside_the_basic_plane_is_named_whole_and_a_lone_surrogate_as_the_replacement_character()
    {
        var tokenizer = new LlamaTokenizer(models.TinyStories);

        Assert.Contains("'😀' (U+1F600) at character 3", tokenizer.FindUnencodable("Hi 😀"));
        Assert.Contains("'\uFFFD' (U+D83D) at character 1", tokenizer.FindUnencodable("a\uD83D"));
    }

    [Theory]
    [InlineData(false, "Once upon a time, there was a little dog.")] // plain words, which TinyStories-656K spells
    [InlineData(true, "Ünïcødé {braces} [and] 😀 = ok")]             // anything, with byte fallback
    public void Text_the_vocabulary_can_encode_passes_and_comes_back_unchanged(bool byteFallback, string text)
    {
        var tokenizer = new LlamaTokenizer(byteFallback ? models.Stories : models.TinyStories);

        Assert.Null(tokenizer.FindUnencodable(text));
        Assert.Equal(text, tokenizer.Detokenize(tokenizer.Tokenize(text, addBos: false, parseSpecial: false)).TrimStart());
    }

    [Fact]
    public void The_streaming_decoder_holds_back_a_character_until_its_last_byte_arrives()
    {
        var tokenizer = new LlamaTokenizer(models.Stories);
        var tokens = tokenizer.Tokenize("😀", addBos: false, parseSpecial: false);
        var decoder = tokenizer.CreateDecoder();

        // Byte fallback spells the emoji as byte tokens: nothing comes out before the last one.
        var pieces = tokens.Select(decoder.Add).ToList();
        Assert.True(tokens.Length > 1, $"expected byte tokens, got {tokens.Length}");
        Assert.All(pieces[..^1], piece => Assert.DoesNotContain("\uFFFD", piece));
        Assert.EndsWith("😀", string.Concat(pieces));
    }
}
