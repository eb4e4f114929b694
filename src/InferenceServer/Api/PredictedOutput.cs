using System.Text.Json.Nodes;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>
/// OpenAI's Predicted Outputs (<c>prediction: {"type": "content", "content": string | text parts}</c>) and the
/// <c>speculative</c> extension (false: no speculative decoding for this request). The prediction's tokens are
/// the engine's draft: verified by the model, so they change the speed of a response, never its text.
/// </summary>
internal static class PredictedOutput
{
    public static GenerationSettings WithPrediction(this GenerationSettings settings, RequestReader reader, ResolvedRequest resolved)
    {
        var speculate = reader.OptionalBool("speculative") ?? true;
        var text = Read(reader.Get("prediction"));
        if (text is null || text.Length == 0) return settings with { Speculate = speculate };
        if (resolved.Model.Tokenizer.FindUnencodable(text) is { } problem)
            throw RequestReader.Invalid("prediction.content", problem, "unencodable_text");
        return settings with { Speculate = speculate, Prediction = Tokens(resolved.Model.Tokenizer, text) };
    }

    /// <summary>
    /// The prediction's tokens, spelling exactly its text: a SentencePiece tokenizer puts a space before the text
    /// (add_space_prefix), and before a text that starts with a space that space is a token of its own, which the
    /// model never writes; the prediction would then start with a refused token and the rest be split otherwise.
    /// </summary>
    internal static int[] Tokens(ITokenizer tokenizer, string text)
    {
        var tokens = tokenizer.Tokenize(text, addBos: false, parseSpecial: false);
        if (tokens.Length < 2 || tokenizer.PieceBytes(tokens[0]) is not [(byte)' ']) return tokens;
        var spelt = tokens.SelectMany(tokenizer.PieceBytes).ToArray();
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        return spelt.Length == bytes.Length + 1 && spelt.AsSpan(1).SequenceEqual(bytes) ? tokens[1..] : tokens;
    }

    private static string? Read(JsonNode? prediction)
    {
        switch (prediction)
        {
            case null:
                return null;
            case JsonObject shape:
                var reader = new RequestReader(shape);
                if (reader.OptionalString("type") != "content")
                    throw RequestReader.Invalid("prediction.type", "'prediction.type' must be \"content\".");
                return shape["content"] switch
                {
                    JsonValue value when value.TryGetValue(out string? content) => content,
                    JsonArray parts => string.Concat(parts.Select((part, i) => TextPart(part, $"prediction.content[{i}]"))),
                    var other => throw RequestReader.WrongType("prediction.content", "a string or an array of text parts", other),
                };
            case var other:
                throw RequestReader.WrongType("prediction", "an object like {\"type\": \"content\", \"content\": \"...\"}", other);
        }
    }

    private static string TextPart(JsonNode? part, string param) =>
        part is JsonObject o && o["type"] is JsonValue t && t.TryGetValue(out string? type) && type == "text"
            && o["text"] is JsonValue v && v.TryGetValue(out string? text)
            ? text
            : throw RequestReader.WrongType(param, "a text part {\"type\": \"text\", \"text\": \"...\"}", part);

    /// <summary>Usage's prediction counts over a response's choices: draft tokens kept and thrown away; null when the request had no prediction.</summary>
    public static PredictionUsage? Usage(GenerationSettings settings, IEnumerable<SpeculationCounts?> choices)
    {
        if (settings.Prediction is null) return null;
        var predicted = choices.Where(c => c?.Kind == DraftKind.Prediction).ToList();
        return new PredictionUsage(predicted.Sum(c => c!.Accepted), predicted.Sum(c => c!.Rejected));
    }
}

/// <summary>completion_tokens_details' accepted_prediction_tokens and rejected_prediction_tokens.</summary>
internal sealed record PredictionUsage(int Accepted, int Rejected);
