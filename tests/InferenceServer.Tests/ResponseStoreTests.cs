using System.Text.Json.Nodes;
using InferenceServer.Api.Responses;
using Microsoft.Extensions.Options;

namespace InferenceServer.Tests;

/// <summary>The bounded response store: per-key visibility, least-recently-used eviction by count and by bytes.</summary>
public class ResponseStoreTests
{
    private static ResponseStore Store(int items, long bytes) =>
        new(Options.Create(new ServerOptions { ResponsesStoreMaxItems = items, ResponsesStoreMaxBytes = bytes }));

    private static StoredResponse Response(string id, int textLength = 10) => new(
        new JsonObject { ["id"] = id, ["output_text"] = new string('x', textLength) }, [new JsonObject { ["id"] = "msg_1" }], []);

    [Fact]
    public void A_response_is_visible_only_to_the_key_that_stored_it()
    {
        var store = Store(10, 1 << 20);
        store.Add("key-a", Response("resp_1"));
        Assert.NotNull(store.Get("resp_1", "key-a"));
        Assert.Null(store.Get("resp_1", "key-b"));
        Assert.False(store.Delete("resp_1", "key-b"));
        Assert.True(store.Delete("resp_1", "key-a"));
        Assert.Null(store.Get("resp_1", "key-a"));
    }

    [Fact]
    public void The_least_recently_used_response_goes_first_when_the_count_is_reached()
    {
        var store = Store(2, 1 << 20);
        store.Add("k", Response("resp_1"));
        store.Add("k", Response("resp_2"));
        Assert.NotNull(store.Get("resp_1", "k"));
        store.Add("k", Response("resp_3"));
        Assert.NotNull(store.Get("resp_1", "k"));
        Assert.Null(store.Get("resp_2", "k"));
        Assert.NotNull(store.Get("resp_3", "k"));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void Bytes_are_bounded_and_a_response_larger_than_the_budget_is_not_kept()
    {
        var one = Response("resp_1", 1000);
        var size = 2L * (one.Response.ToJsonString().Length + one.InputItems.ToJsonString().Length + one.Conversation.ToJsonString().Length);
        var store = Store(100, size * 2);
        store.Add("k", one);
        store.Add("k", Response("resp_2", 1000));
        store.Add("k", Response("resp_3", 1000));
        Assert.Null(store.Get("resp_1", "k"));
        Assert.Equal(2, store.Count);
        Assert.True(store.Bytes <= size * 2);

        store.Add("k", Response("resp_big", 10_000));
        Assert.Null(store.Get("resp_big", "k"));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void What_a_caller_reads_is_its_own_copy()
    {
        var store = Store(10, 1 << 20);
        store.Add("k", Response("resp_1"));
        store.Get("resp_1", "k")!.Response["output_text"] = "changed";
        Assert.Equal(new string('x', 10), (string)store.Get("resp_1", "k")!.Response["output_text"]!);
    }
}
