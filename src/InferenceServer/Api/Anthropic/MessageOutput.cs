using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.ToolCalls;

namespace InferenceServer.Api.Anthropic;

/// <summary>
/// Builds a message's content blocks (<c>thinking</c> when the template thinks, <c>text</c>, <c>tool_use</c>) from
/// its generated text as it arrives, and returns the stream events that announce each step in Anthropic's order:
/// content_block_start, content_block_delta (<c>thinking_delta</c>, <c>text_delta</c>, <c>input_json_delta</c> as a
/// call's arguments are generated), content_block_stop. A whole (not streamed) message pushes its text once and drops
/// the events. Not thread-safe: one per message.
/// </summary>
internal sealed class MessageOutput(OutputShape shape)
{
    private readonly ReasoningStreamParser? _reasoning = shape.NewReasoningParser();
    private readonly ToolCallStreamParser? _parser = shape.NewStreamParser();
    private readonly System.Text.StringBuilder _thinking = new();
    // The open text or thinking block, and the tool_use blocks by the parser's call index.
    private JsonObject? _open;
    private readonly Dictionary<int, JsonObject> _calls = [];
    private readonly HashSet<int> _unfinishedCalls = [];

    public JsonArray Content { get; } = [];

    /// <summary>The thinking the output held (empty when none).</summary>
    public string ThinkingText => _thinking.ToString();

    public bool CalledTools => _calls.Count > 0;

    public List<JsonObject> Push(string text)
    {
        if (_reasoning is null) return Answer(text);
        var split = _reasoning.Push(text);
        return [.. Thinking(split.Reasoning), .. Answer(split.Content)];
    }

    /// <summary>Ends the output: what the parsers held back, then the open block's stop. A message always has a block.</summary>
    public List<JsonObject> Finish()
    {
        var events = new List<JsonObject>();
        if (_reasoning?.Finish() is { } split)
        {
            events.AddRange(Thinking(split.Reasoning));
            events.AddRange(Answer(split.Content));
        }
        if (_parser is not null) events.AddRange(Apply(_parser.Finish()));
        // A call cut short at max_tokens ends with what it had.
        foreach (var index in _unfinishedCalls.Order()) events.Add(new JsonObject { ["type"] = "content_block_stop", ["index"] = Content.IndexOf(_calls[index]) });
        _unfinishedCalls.Clear();
        if (Content.Count == 0) events.AddRange(Open("text"));
        events.AddRange(Close());
        return events;
    }

    private List<JsonObject> Thinking(string text)
    {
        if (text.Length == 0) return [];
        var events = Open("thinking");
        _thinking.Append(text);
        _open!["thinking"] = (string)_open["thinking"]! + text;
        events.Add(Delta(new JsonObject { ["type"] = "thinking_delta", ["thinking"] = text }));
        return events;
    }

    private List<JsonObject> Answer(string text) => text.Length == 0 ? [] : _parser is null ? Text(text) : Apply(_parser.Push(text));

    private List<JsonObject> Text(string text)
    {
        if (text.Length == 0) return [];
        var events = Open("text");
        _open!["text"] = (string)_open["text"]! + text;
        events.Add(Delta(new JsonObject { ["type"] = "text_delta", ["text"] = text }));
        return events;
    }

    private List<JsonObject> Apply(IReadOnlyList<ToolCallStreamEvent> parsed)
    {
        var events = new List<JsonObject>();
        foreach (var item in parsed)
        {
            switch (item)
            {
                case ContentEvent content:
                    events.AddRange(Text(content.Text));
                    break;
                case CallStartEvent start when shape.Parallel || start.Index == 0:
                    events.AddRange(Close());
                    var block = new JsonObject { ["type"] = "tool_use", ["id"] = $"toolu_{Guid.NewGuid():N}"[..30], ["name"] = start.Name, ["input"] = new JsonObject() };
                    _calls[start.Index] = block;
                    _unfinishedCalls.Add(start.Index);
                    Content.Add(block);
                    events.Add(new JsonObject { ["type"] = "content_block_start", ["index"] = Content.Count - 1, ["content_block"] = block.DeepClone() });
                    break;
                case ArgumentsDeltaEvent delta when _calls.TryGetValue(delta.Index, out var call):
                    events.Add(new JsonObject
                    {
                        ["type"] = "content_block_delta", ["index"] = Content.IndexOf(call),
                        ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = delta.Text },
                    });
                    break;
                case CallEvent done when _calls.TryGetValue(done.Index, out var call):
                    call["input"] = Input(done.Call.Arguments);
                    _unfinishedCalls.Remove(done.Index);
                    events.Add(new JsonObject { ["type"] = "content_block_stop", ["index"] = Content.IndexOf(call) });
                    break;
            }
        }
        return events;
    }

    /// <summary>Opens a block of this type, closing another open block first; nothing when one of this type is open.</summary>
    private List<JsonObject> Open(string type)
    {
        if (_open is not null && (string?)_open["type"] == type) return [];
        var events = Close();
        _open = type == "text"
            ? new JsonObject { ["type"] = "text", ["text"] = "" }
            // Anthropic signs thinking so that it can be sent back unchanged; this server has nothing to sign.
            : new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" };
        Content.Add(_open);
        var start = (JsonObject)_open.DeepClone();
        events.Add(new JsonObject { ["type"] = "content_block_start", ["index"] = Content.Count - 1, ["content_block"] = start });
        return events;
    }

    private List<JsonObject> Close()
    {
        if (_open is null) return [];
        var index = Content.IndexOf(_open);
        _open = null;
        return [new JsonObject { ["type"] = "content_block_stop", ["index"] = index }];
    }

    private JsonObject Delta(JsonObject delta) => new() { ["type"] = "content_block_delta", ["index"] = Content.IndexOf(_open), ["delta"] = delta };

    /// <summary>A call's arguments as the object Anthropic's <c>input</c> is; arguments cut short (at max_tokens) leave it empty.</summary>
    private static JsonObject Input(string arguments)
    {
        try
        {
            return JsonNode.Parse(arguments) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}
