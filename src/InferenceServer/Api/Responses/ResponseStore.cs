using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace InferenceServer.Api.Responses;

/// <summary>A stored response: the response object, the input items it was made from, and its whole conversation
/// (previous turns, this input and this output) as chat messages, without instructions, for a continuation.</summary>
internal sealed record StoredResponse(JsonObject Response, JsonArray InputItems, JsonArray Conversation);

/// <summary>
/// The responses kept for <c>previous_response_id</c>, GET, DELETE and input_items, in memory, bounded by count and
/// by bytes (--responses-store-items, --responses-store-bytes): the least recently used (created or read) go first.
/// A response is visible only to the API key that created it; to any other it does not exist.
/// Entries are held as JSON text, so no caller shares a mutable node with the store. Thread-safe (one lock).
/// </summary>
internal sealed class ResponseStore(IOptions<ServerOptions> options)
{
    private readonly int _maxItems = options.Value.ResponsesStoreMaxItems;
    private readonly long _maxBytes = options.Value.ResponsesStoreMaxBytes;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = [];
    // Most recently used first.
    private readonly LinkedList<Entry> _recency = new();
    private long _bytes;

    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    /// <summary>Stores a response for its owner, evicting least recently used ones to fit; one larger than the whole budget is not kept.</summary>
    public void Add(string owner, StoredResponse response)
    {
        var id = (string)response.Response["id"]!;
        var entry = new Entry(id, owner, response.Response.ToJsonString(), response.InputItems.ToJsonString(), response.Conversation.ToJsonString());
        lock (_lock)
        {
            RemoveLocked(id);
            if (entry.Bytes > _maxBytes || _maxItems == 0) return;
            _entries[id] = _recency.AddFirst(entry);
            _bytes += entry.Bytes;
            while (_entries.Count > _maxItems || _bytes > _maxBytes) RemoveLocked(_recency.Last!.Value.Id);
        }
    }

    /// <summary>The response with this id if <paramref name="owner"/> created it and it is still kept; marks it used.</summary>
    public StoredResponse? Get(string id, string owner)
    {
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var node) || node.Value.Owner != owner) return null;
            _recency.Remove(node);
            _recency.AddFirst(node);
            entry = node.Value;
        }
        return new StoredResponse((JsonObject)JsonNode.Parse(entry.Response)!, (JsonArray)JsonNode.Parse(entry.InputItems)!, (JsonArray)JsonNode.Parse(entry.Conversation)!);
    }

    /// <summary>Deletes the response if <paramref name="owner"/> created it; false when there is none to delete.</summary>
    public bool Delete(string id, string owner)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(id, out var node) || node.Value.Owner != owner) return false;
            RemoveLocked(id);
            return true;
        }
    }

    private void RemoveLocked(string id)
    {
        if (!_entries.Remove(id, out var node)) return;
        _recency.Remove(node);
        _bytes -= node.Value.Bytes;
    }

    private sealed record Entry(string Id, string Owner, string Response, string InputItems, string Conversation)
    {
        // UTF-16 code units: what the strings hold in memory, at two bytes each.
        public long Bytes { get; } = 2L * (Response.Length + InputItems.Length + Conversation.Length);
    }
}
