using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api.Responses;

/// <summary>
/// Builds a response's <c>output</c> items (a <c>reasoning</c> item when the template thinks, a <c>message</c> with
/// one <c>output_text</c> part, <c>function_call</c>s) from its generated text as it arrives, and returns the
/// streaming events that announce each step in OpenAI's order: output_item.added, content_part.added, then
/// reasoning_text or output_text deltas and done, content_part.done, output_item.done; for a call
/// output_item.added, function_call_arguments.delta, function_call_arguments.done, output_item.done.
/// A whole (not streamed) response pushes its text once and drops the events. Events carry no sequence number yet
/// (<see cref="ResponseEvents"/> numbers them). Not thread-safe: one per response.
/// </summary>
internal sealed class ResponseOutput(OutputShape shape, bool logprobs)
{
    private readonly ReasoningStreamParser? _reasoning = shape.NewReasoningParser();
    private readonly ToolCallStreamParser? _parser = shape.NewStreamParser();
    // All messages' text (joined by newlines) for the replayed conversation; the open message's text starts at _messageStart.
    private readonly StringBuilder _text = new();
    private int _messageStart;
    private readonly StringBuilder _reasoningText = new();
    private readonly JsonArray _logprobs = [];
    private JsonObject? _open;
    // The function_call items by the parser's call index.
    private readonly Dictionary<int, JsonObject> _calls = [];

    public JsonArray Items { get; } = [];

    /// <summary>The reasoning the output held (empty when none).</summary>
    public string ReasoningText => _reasoningText.ToString();

    /// <summary>Adds generated text; <paramref name="tokenLogprobs"/> are its tokens' log probabilities when asked for.</summary>
    public List<JsonObject> Push(string text, JsonArray? tokenLogprobs)
    {
        if (_reasoning is null) return Answer(text, tokenLogprobs);
        var split = _reasoning.Push(text);
        return [.. AppendReasoning(split.Reasoning), .. Answer(split.Content, tokenLogprobs)];
    }

    /// <summary>Ends the output; <paramref name="status"/> is "completed" or "incomplete" (cut at max_output_tokens).</summary>
    public List<JsonObject> Finish(string status)
    {
        var events = new List<JsonObject>();
        if (_reasoning?.Finish() is { } split)
        {
            events.AddRange(AppendReasoning(split.Reasoning));
            events.AddRange(Answer(split.Content, null));
        }
        if (_parser is not null) events.AddRange(Apply(_parser.Finish()));
        // A response always has its message, even an empty one, unless the model called functions.
        if (!Items.OfType<JsonObject>().Any(item => (string?)item["type"] is "message" or "function_call")) events.AddRange(AppendText("", null));
        events.AddRange(ClosePart(status));
        foreach (var item in Items) item!["status"] = status;
        return events;
    }

    /// <summary>The output as the chat message that a continued conversation replays (templates drop past reasoning).</summary>
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

    private List<JsonObject> Answer(string text, JsonArray? tokenLogprobs)
    {
        if (text.Length == 0) return [];
        if (_parser is null) return AppendText(text, tokenLogprobs);
        // With calls parsed out of the text, a token's text may end up in a call: logprobs go with the message's whole text.
        if (tokenLogprobs is not null) foreach (var item in tokenLogprobs) _logprobs.Add(item!.DeepClone());
        return Apply(_parser.Push(text));
    }

    private List<JsonObject> Apply(IReadOnlyList<ToolCallStreamEvent> parsed)
    {
        var events = new List<JsonObject>();
        foreach (var item in parsed)
        {
            switch (item)
            {
                case ContentEvent content:
                    events.AddRange(AppendText(content.Text, null));
                    break;
                case CallStartEvent start when shape.Parallel || start.Index == 0:
                    events.AddRange(StartCall(start.Index, start.Name));
                    break;
                case ArgumentsDeltaEvent delta when _calls.TryGetValue(delta.Index, out var call):
                    call["arguments"] = (string)call["arguments"]! + delta.Text;
                    events.Add(new JsonObject { ["type"] = "response.function_call_arguments.delta", ["item_id"] = call["id"]!.DeepClone(), ["output_index"] = Items.IndexOf(call), ["delta"] = delta.Text });
                    break;
                case CallEvent done when _calls.TryGetValue(done.Index, out var call):
                    events.AddRange(EndCall(call, done.Call));
                    break;
            }
        }
        return events;
    }

    private List<JsonObject> AppendReasoning(string text)
    {
        if (text.Length == 0) return [];
        var events = Open("reasoning", "reasoning_text");
        _reasoningText.Append(text);
        events.Add(Delta("response.reasoning_text.delta", text));
        return events;
    }

    private List<JsonObject> AppendText(string text, JsonArray? tokenLogprobs)
    {
        var events = Open("message", "output_text");
        if (text.Length == 0) return events;
        _text.Append(text);
        if (tokenLogprobs is not null) foreach (var item in tokenLogprobs) _logprobs.Add(item!.DeepClone());
        var delta = Delta("response.output_text.delta", text);
        delta["logprobs"] = tokenLogprobs?.DeepClone() ?? new JsonArray();
        events.Add(delta);
        return events;
    }

    /// <summary>Opens an item of this type with one part, closing another open item first; nothing when one is open.</summary>
    private List<JsonObject> Open(string type, string partType)
    {
        if (_open is not null && (string?)_open["type"] == type) return [];
        var events = ClosePart("completed");
        // Text after a call opens a second message.
        if (type == "message")
        {
            if (_text.Length > 0) _text.Append('\n');
            _messageStart = _text.Length;
        }
        _open = type == "message"
            ? new JsonObject { ["id"] = ResponseIds.New("msg"), ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() }
            : new JsonObject { ["id"] = ResponseIds.New("rs"), ["type"] = "reasoning", ["status"] = "in_progress", ["summary"] = new JsonArray(), ["content"] = new JsonArray() };
        Items.Add(_open);
        events.Add(ItemEvent("response.output_item.added", _open));
        events.Add(PartEvent("response.content_part.added", Part(partType, "")));
        return events;
    }

    private List<JsonObject> ClosePart(string status)
    {
        if (_open is null) return [];
        var isMessage = (string)_open["type"]! == "message";
        var part = isMessage ? Part("output_text", MessageText()) : Part("reasoning_text", _reasoningText.ToString());
        var done = PartEvent(isMessage ? "response.output_text.done" : "response.reasoning_text.done", null);
        done.Remove("part");
        done["text"] = part["text"]!.DeepClone();
        if (isMessage) done["logprobs"] = part["logprobs"]!.DeepClone();
        _open["content"] = new JsonArray(part);
        _open["status"] = status;
        var events = new List<JsonObject> { done, PartEvent("response.content_part.done", part), ItemEvent("response.output_item.done", _open) };
        _open = null;
        return events;
    }

    private List<JsonObject> StartCall(int index, string name)
    {
        var events = ClosePart("completed");
        var item = new JsonObject
        {
            ["id"] = ResponseIds.New("fc"), ["type"] = "function_call", ["status"] = "in_progress", ["arguments"] = "",
            ["call_id"] = $"call_{Guid.NewGuid():N}"[..29], ["name"] = name,
        };
        Items.Add(item);
        _calls[index] = item;
        events.Add(ItemEvent("response.output_item.added", item));
        return events;
    }

    private List<JsonObject> EndCall(JsonObject item, ToolCall call)
    {
        item["arguments"] = call.Arguments;
        item["status"] = "completed";
        return
        [
            new JsonObject
            {
                ["type"] = "response.function_call_arguments.done", ["item_id"] = item["id"]!.DeepClone(), ["output_index"] = Items.IndexOf(item),
                ["name"] = call.Name, ["arguments"] = call.Arguments,
            },
            ItemEvent("response.output_item.done", item),
        ];
    }

    /// <summary>The open message's own text: what was appended since it opened.</summary>
    private string MessageText() => _text.ToString()[_messageStart..];

    private JsonObject Part(string type, string text) => type == "output_text"
        ? new JsonObject { ["type"] = type, ["text"] = text, ["annotations"] = new JsonArray(), ["logprobs"] = logprobs ? _logprobs.DeepClone() : new JsonArray() }
        : new JsonObject { ["type"] = type, ["text"] = text };

    private JsonObject Delta(string type, string text)
    {
        var delta = PartEvent(type, null);
        delta.Remove("part");
        delta["delta"] = text;
        return delta;
    }

    private JsonObject ItemEvent(string type, JsonObject item) =>
        new() { ["type"] = type, ["output_index"] = Items.IndexOf(item), ["item"] = item.DeepClone() };

    private JsonObject PartEvent(string type, JsonObject? part) => new()
    {
        ["type"] = type, ["item_id"] = _open!["id"]!.DeepClone(), ["output_index"] = Items.IndexOf(_open),
        ["content_index"] = 0, ["part"] = part?.DeepClone(),
    };
}
