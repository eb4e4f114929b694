using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>POST /tokenize and /detokenize, in llama-server's shapes.</summary>
internal static class TokenizerEndpoints
{
    public static async Task<IResult> TokenizeAsync(HttpContext http, RequestResolver resolver)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = (await resolver.ResolveNamedOrDefaultAsync(http, reader)).Model;
        var content = reader.Get("content") is JsonValue v && v.TryGetValue(out string? text)
            ? text
            : throw RequestReader.WrongType("content", "a string", reader.Get("content"));
        if (model.Tokenizer.FindUnencodable(content) is { } problem) throw RequestReader.Invalid("content", problem, "unencodable_text");

        var tokens = model.Tokenizer.Tokenize(content, addBos: reader.OptionalBool("add_special") ?? false, parseSpecial: true);
        return reader.OptionalBool("with_pieces") is true
            ? TypedResults.Json(new { tokens = tokens.Select(id => new { id, piece = TokenText.Piece(model.Tokenizer, id) }) }, ApiJson.Options)
            : TypedResults.Json(new { tokens }, ApiJson.Options);
    }

    public static async Task<IResult> DetokenizeAsync(HttpContext http, RequestResolver resolver)
    {
        var reader = await RequestReader.ReadAsync(http.Request, http.RequestAborted);
        var model = (await resolver.ResolveNamedOrDefaultAsync(http, reader)).Model;
        if (reader.Get("tokens") is not JsonArray array) throw RequestReader.WrongType("tokens", "an array of token ids", reader.Get("tokens"));
        var tokens = PromptInput.TokenIds(array, "tokens", model.Tokenizer.VocabularySize);
        return TypedResults.Json(new { content = model.Tokenizer.Detokenize(tokens) }, ApiJson.Options);
    }
}
