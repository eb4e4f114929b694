using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api.Responses;

/// <summary>
/// Builds a response's <c>output</c> items (a <c>message</c> with one <c>output_text</c> part, <c>function_call</c>s)
/// from its generated text as it arrives, and returns the streaming events that announce each step, in OpenAI's order:
/// output_item.added, content_part.added, output_text.delta…, output_text.done, content_part.done, output_item.done;
/// for a call output_item.added, function_call_arguments.delta, function_call_arguments.done, output_item.done.
/// A whole (not streamed) response pushes its text once and drops the events. Events carry no sequence number yet
/// (<see cref="ResponseEvents"/> numbers them). Not thread-safe: one per response.
/// </summary>
internal sealed class ResponseOutput(OutputShape shape, bool logprobs)
{
    private readonly ToolCallStreamParser? _parser = shape.NewStreamParser();
    // All messages' text (joined by newlines) for the replayed conversation, and the open message's own.
    private readonly StringBuilder _text = new();
    private readonly StringBuilder _messageText = new();
    private readonly JsonArray _logprobs = [];
    private JsonObject? _message;
    private int _calls;

    public JsonArray Items { get; } = [];

    /// <summary>Adds generated text; <paramref name="tokenLogprobs"/> are its tokens' log probabilities when asked for.</summary>
    public List<JsonObject> Push(string text, JsonArray? tokenLogprobs)
    {
        if (_parser is null) return AppendText(text, tokenLogprobs);
        // With calls parsed out of the text, a token's text may end up in a call: logprobs go with the message's whole text.
        if (tokenLogprobs is not null) foreach (var item in tokenLogprobs) _logprobs.Add(item!.DeepClone());
        return Apply(_parser.Push(text));
    }

    /// <summary>Ends the output; <paramref name="status"/> is "completed" or "incomplete" (cut at max_output_tokens).</summary>
    public List<JsonObject> Finish(string status)
    {
        var events = _parser is null ? [] : Apply(_parser.Finish());
        // A response always has its message, even an empty one, unless the model only called functions.
        if (Items.Count == 0) events.AddRange(AppendText("", null));
        events.AddRange(CloseMessage(status));
        foreach (var item in Items) item!["status"] = status;
        return events;
    }

    /// <summary>The output as the chat message that a continued conversation replays.</summary>
    public JsonObject AssistantMessage()
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = _text.ToString() };
        var calls = Items.OfType<JsonObject>().Where(item => (string?)item["type"] == "function_call").Select(item => (JsonNode)new JsonObject
        {
            ["id"] = item["call_id"]!.DeepClone(),
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = item["name"]!.DeepClone(), ["arguments"] = item["arguments"]!.DeepClone() },
        }).ToArray();
        if (calls.Length > 0) message["tool_calls"] = new JsonArray(calls);
        return message;
    }

    private List<JsonObject> Apply(IReadOnlyList<ToolCallStreamEvent> parsed)
    {
        var events = new List<JsonObject>();
        foreach (var item in parsed)
        {
            if (item is ContentEvent content) events.AddRange(AppendText(content.Text, null));
            else if (item is CallEvent call && (shape.Parallel || _calls == 0)) events.AddRange(AddCall(call.Call));
        }
        return events;
    }

    private List<JsonObject> AppendText(string text, JsonArray? tokenLogprobs)
    {
        var events = new List<JsonObject>();
        if (_message is null)
        {
            // Text after a call opens a second message.
            if (_text.Length > 0) _text.Append('\n');
            _messageText.Clear();
            _message = new JsonObject { ["id"] = ResponseIds.New("msg"), ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() };
            events.Add(ItemEvent("response.output_item.added", _message));
            events.Add(PartEvent("response.content_part.added", TextPart("", [])));
            Items.Add(_message);
        }
        if (text.Length == 0) return events;
        _text.Append(text);
        _messageText.Append(text);
        if (tokenLogprobs is not null) foreach (var item in tokenLogprobs) _logprobs.Add(item!.DeepClone());
        var delta = PartEvent("response.output_text.delta", null);
        delta.Remove("part");
        delta["delta"] = text;
        delta["logprobs"] = tokenLogprobs?.DeepClone() ?? new JsonArray();
        events.Add(delta);
        return events;
    }

    private List<JsonObject> CloseMessage(string status)
    {
        if (_message is null) return [];
        var text = _messageText.ToString();
        var part = TextPart(text, logprobs ? (JsonArray)_logprobs.DeepClone() : []);
        var done = PartEvent("response.output_text.done", null);
        done.Remove("part");
        done["text"] = text;
        done["logprobs"] = part["logprobs"]!.DeepClone();
        _message["content"] = new JsonArray(part);
        _message["status"] = status;
        var events = new List<JsonObject> { done, PartEvent("response.content_part.done", part), ItemEvent("response.output_item.done", _message) };
        _message = null;
        return events;
    }

    private List<JsonObject> AddCall(ToolCall call)
    {
        var events = CloseMessage("completed");
        _calls++;
        var item = new JsonObject
        {
            ["id"] = ResponseIds.New("fc"), ["type"] = "function_call", ["status"] = "in_progress", ["arguments"] = "",
            ["call_id"] = call.Id ?? $"call_{Guid.NewGuid():N}"[..29], ["name"] = call.Name,
        };
        Items.Add(item);
        var index = Items.Count - 1;
        events.Add(ItemEvent("response.output_item.added", item));
        events.Add(new JsonObject { ["type"] = "response.function_call_arguments.delta", ["item_id"] = item["id"]!.DeepClone(), ["output_index"] = index, ["delta"] = call.Arguments });
        events.Add(new JsonObject
        {
            ["type"] = "response.function_call_arguments.done", ["item_id"] = item["id"]!.DeepClone(), ["output_index"] = index,
            ["name"] = call.Name, ["arguments"] = call.Arguments,
        });
        item["arguments"] = call.Arguments;
        item["status"] = "completed";
        events.Add(ItemEvent("response.output_item.done", item));
        return events;
    }

    private static JsonObject TextPart(string text, JsonArray logprobs) =>
        new() { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray(), ["logprobs"] = logprobs };

    private JsonObject ItemEvent(string type, JsonObject item) =>
        new() { ["type"] = type, ["output_index"] = Items.IndexOf(item) is var i and >= 0 ? i : Items.Count, ["item"] = item.DeepClone() };

    private JsonObject PartEvent(string type, JsonObject? part) => new()
    {
        ["type"] = type, ["item_id"] = _message!["id"]!.DeepClone(), ["output_index"] = Items.IndexOf(_message) is var i and >= 0 ? i : Items.Count,
        ["content_index"] = 0, ["part"] = part?.DeepClone(),
    };
}
