using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api.Ollama;

/// <summary>Ollama's model names: a name has a tag (<c>NAME:TAG</c>), and a name without one means <c>:latest</c>.</summary>
internal static class OllamaModels
{
    /// <summary>How a model id is listed: with <c>:latest</c> unless the id has a tag of its own.</summary>
    public static string NameOf(string id) => id.Contains(':') ? id : id + ":latest";

    /// <summary>The configured id a client's name means: the name, or the name without <c>:latest</c> (else the name, for the resolver's 404 or BASE:ADAPTER).</summary>
    public static string IdOf(string name, ModelRegistry models) =>
        !models.IsConfigured(name) && name.EndsWith(":latest", StringComparison.Ordinal) && models.IsConfigured(name[..^":latest".Length])
            ? name[..^":latest".Length]
            : name;
}

/// <summary>
/// The objects one chat or generate request answers with: a chat's carry <c>message</c>, a generate's
/// <c>response</c> (and <c>thinking</c> beside it); the last one has <c>done</c>, <c>done_reason</c> and the timings
/// in nanoseconds. <c>prompt_eval_count</c> is what the prompt computed: tokens found in the prefix cache are not
/// evaluated again, as in Ollama. Immutable.
/// </summary>
internal sealed record OllamaReply(string Model, bool Chat, TimeSpan LoadDuration, long StartedTimestamp)
{
    /// <summary>What a request without messages or prompt gets: the model is loaded, nothing is generated.</summary>
    public JsonObject Loaded()
    {
        var reply = Chunk("", "", []);
        reply["done"] = true;
        reply["done_reason"] = "load";
        return reply;
    }

    public JsonObject Chunk(string content, string thinking, IReadOnlyList<ToolCall> calls)
    {
        var reply = new JsonObject { ["model"] = Model, ["created_at"] = DateTime.UtcNow.ToString("o") };
        if (Chat)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = content };
            if (thinking.Length > 0) message["thinking"] = thinking;
            if (calls.Count > 0)
                message["tool_calls"] = new JsonArray([.. calls.Select((call, i) => (JsonNode)new JsonObject
                {
                    ["id"] = call.Id ?? $"call_{Guid.NewGuid():N}"[..29],
                    ["function"] = new JsonObject { ["index"] = i, ["name"] = call.Name, ["arguments"] = Arguments(call.Arguments) },
                })]);
            reply["message"] = message;
        }
        else
        {
            reply["response"] = content;
            if (thinking.Length > 0) reply["thinking"] = thinking;
        }
        reply["done"] = false;
        return reply;
    }

    /// <summary>Makes <paramref name="reply"/> the last one: why it ended and where the time went.</summary>
    public void Done(JsonObject reply, FinishReason reason, int promptTokens, int cachedTokens, int completionTokens, GenerationTimings timings)
    {
        var firstToken = timings.TimeToFirstToken ?? timings.Total;
        reply["done"] = true;
        reply["done_reason"] = reason == FinishReason.Length ? "length" : "stop";
        reply["total_duration"] = OllamaEndpoints.Nanoseconds(Stopwatch.GetElapsedTime(StartedTimestamp));
        reply["load_duration"] = OllamaEndpoints.Nanoseconds(LoadDuration);
        reply["prompt_eval_count"] = promptTokens - cachedTokens;
        reply["prompt_eval_duration"] = OllamaEndpoints.Nanoseconds(firstToken - timings.QueueWait);
        reply["eval_count"] = completionTokens;
        reply["eval_duration"] = OllamaEndpoints.Nanoseconds(timings.Total - firstToken);
    }

    /// <summary>Ollama sends arguments as an object; text that is not one (cut at num_predict) stays a string.</summary>
    private static JsonNode Arguments(string arguments)
    {
        try
        {
            return JsonNode.Parse(arguments) as JsonObject ?? (JsonNode)JsonValue.Create(arguments);
        }
        catch (JsonException)
        {
            return JsonValue.Create(arguments);
        }
    }
}

/// <summary>
/// Splits one streamed output into Ollama's chunks: thinking and content as they arrive, and each tool call whole once
/// its arguments are complete (Ollama does not stream arguments). Not thread-safe: one per request.
/// </summary>
internal sealed class OllamaStreamOutput(OutputShape shape)
{
    private readonly ReasoningStreamParser? _reasoning = shape.NewReasoningParser();
    private readonly ToolCallStreamParser? _parser = shape.NewStreamParser();

    public List<(string Content, string Thinking, IReadOnlyList<ToolCall> Calls)> Push(string text)
    {
        if (_reasoning is null) return Answer(text);
        var split = _reasoning.Push(text);
        return [.. Thinking(split.Reasoning), .. Answer(split.Content)];
    }

    public List<(string Content, string Thinking, IReadOnlyList<ToolCall> Calls)> Finish()
    {
        var split = _reasoning?.Finish() ?? default;
        List<(string, string, IReadOnlyList<ToolCall>)> rest = [.. Thinking(split.Reasoning ?? ""), .. Answer(split.Content ?? "")];
        if (_parser is not null) rest.AddRange(Apply(_parser.Finish()));
        return rest;
    }

    private static List<(string, string, IReadOnlyList<ToolCall>)> Thinking(string text) => text.Length == 0 ? [] : [("", text, [])];

    private List<(string, string, IReadOnlyList<ToolCall>)> Answer(string text) =>
        text.Length == 0 ? [] : _parser is null ? [(text, "", [])] : Apply(_parser.Push(text));

    private List<(string, string, IReadOnlyList<ToolCall>)> Apply(IReadOnlyList<ToolCallStreamEvent> events)
    {
        var chunks = new List<(string, string, IReadOnlyList<ToolCall>)>();
        foreach (var item in events)
        {
            if (item is ContentEvent { Text.Length: > 0 } content) chunks.Add((content.Text, "", []));
            else if (item is CallEvent done && (shape.Parallel || done.Index == 0)) chunks.Add(("", "", [done.Call]));
        }
        return chunks;
    }
}
