using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceServer.LoadGen.Tests.Fakes;

/// <summary>How the fake answers one request (chosen by the request's arrival number, starting at 1).</summary>
internal abstract record FakeBehavior
{
    public static readonly FakeBehavior Normal = new StreamNormally();
    public sealed record StreamNormally : FakeBehavior;
    public sealed record Status(int Code) : FakeBehavior;
    /// <summary>Sends this many content chunks, then aborts the connection.</summary>
    public sealed record AbortAfter(int Chunks) : FakeBehavior;
    /// <summary>Sends this many content chunks, then ends the response cleanly but without finish_reason or [DONE].</summary>
    public sealed record EndEarly(int Chunks) : FakeBehavior;
    /// <summary>Accepts the request and never answers (until the client gives up).</summary>
    public sealed record Hang : FakeBehavior;
    /// <summary>Streams normally but leaves out the usage chunk.</summary>
    public sealed record NoUsage : FakeBehavior;
}

/// <summary>Timing and behaviour of the fake. Every content chunk is one token.</summary>
internal sealed record FakeServerSettings
{
    public TimeSpan FirstTokenDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan InterTokenDelay { get; init; } = TimeSpan.FromMilliseconds(20);
    /// <summary>Tokens per answer when set; otherwise the request's max_tokens.</summary>
    public int? TokensPerAnswer { get; init; }
    public int CachedTokens { get; init; } = 3;
    /// <summary>Chooses the behaviour from the request's arrival number (1, 2, …).</summary>
    public Func<int, FakeBehavior> Behavior { get; init; } = _ => FakeBehavior.Normal;
}

/// <summary>
/// An OpenAI-compatible streaming server on 127.0.0.1 (Kestrel, port 0) with known timing: a role-only chunk at
/// once, the first content chunk <see cref="FakeServerSettings.FirstTokenDelay"/> after the request, then one chunk
/// every <see cref="FakeServerSettings.InterTokenDelay"/>, a finish chunk, a usage chunk (prompt tokens = the prompt's
/// word count) and [DONE].
/// </summary>
internal sealed class FakeOpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeServerSettings _settings;
    private int _arrivals;

    /// <summary>Request bodies in arrival order, with the path they were posted to.</summary>
    public ConcurrentQueue<(string Path, JsonObject Body)> Received { get; } = new();

    public Uri BaseUrl { get; private set; } = null!;

    private FakeOpenAiServer(FakeServerSettings settings)
    {
        _settings = settings;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = "fake-model", @object = "model" } } }));
        _app.MapPost("/v1/chat/completions", context => StreamAsync(context, chat: true));
        _app.MapPost("/v1/completions", context => StreamAsync(context, chat: false));
    }

    public static async Task<FakeOpenAiServer> StartAsync(FakeServerSettings? settings = null)
    {
        var server = new FakeOpenAiServer(settings ?? new FakeServerSettings());
        await server._app.StartAsync();
        string address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address + "/v1");
        return server;
    }

    private async Task StreamAsync(HttpContext context, bool chat)
    {
        CancellationToken aborted = context.RequestAborted;
        JsonObject body = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: aborted))!.AsObject();
        Received.Enqueue((context.Request.Path, body));
        FakeBehavior behavior = _settings.Behavior(Interlocked.Increment(ref _arrivals));

        if (behavior is FakeBehavior.Status status)
        {
            context.Response.StatusCode = status.Code;
            await context.Response.WriteAsJsonAsync(new { error = new { message = "fake failure", code = status.Code } }, aborted);
            return;
        }
        if (behavior is FakeBehavior.Hang)
        {
            await Task.Delay(Timeout.Infinite, aborted);
            return;
        }

        int tokens = _settings.TokensPerAnswer ?? body["max_tokens"]!.GetValue<int>();
        int promptWords = chat
            ? body["messages"]!.AsArray().Sum(m => WordCount(m!["content"]!.GetValue<string>()))
            : WordCount(body["prompt"]!.GetValue<string>());
        bool includeUsage = body["stream_options"]?["include_usage"]?.GetValue<bool>() == true && behavior is not FakeBehavior.NoUsage;
        int stopAfter = behavior switch
        {
            FakeBehavior.AbortAfter a => a.Chunks,
            FakeBehavior.EndEarly e => e.Chunks,
            _ => tokens,
        };

        context.Response.ContentType = "text/event-stream";
        if (chat)
            await SendAsync(context, Chunk(chat, "", null, role: true)); // Role-only chunk: must not count as the first token.
        await Task.Delay(_settings.FirstTokenDelay, aborted);
        for (int i = 0; i < stopAfter; i++)
        {
            if (i > 0)
                await Task.Delay(_settings.InterTokenDelay, aborted);
            await SendAsync(context, Chunk(chat, $" t{i}", null, role: false));
        }
        if (behavior is FakeBehavior.AbortAfter)
        {
            context.Abort();
            return;
        }
        if (behavior is FakeBehavior.EndEarly)
            return;

        await SendAsync(context, Chunk(chat, null, "length", role: false));
        if (includeUsage)
        {
            await SendAsync(context, new JsonObject
            {
                ["id"] = "x", ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["choices"] = new JsonArray(),
                ["usage"] = new JsonObject
                {
                    ["prompt_tokens"] = promptWords, ["completion_tokens"] = tokens, ["total_tokens"] = promptWords + tokens,
                    ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = _settings.CachedTokens },
                },
            }.ToJsonString());
        }
        await SendAsync(context, "[DONE]");
    }

    private static string Chunk(bool chat, string? content, string? finishReason, bool role)
    {
        JsonObject choice = chat
            ? new JsonObject { ["index"] = 0, ["delta"] = role ? new JsonObject { ["role"] = "assistant", ["content"] = "" } : content is null ? new JsonObject() : new JsonObject { ["content"] = content } }
            : new JsonObject { ["index"] = 0, ["text"] = content ?? "" };
        choice["finish_reason"] = finishReason;
        return new JsonObject { ["id"] = "x", ["object"] = chat ? "chat.completion.chunk" : "text_completion", ["choices"] = new JsonArray(choice) }.ToJsonString();
    }

    private static async Task SendAsync(HttpContext context, string data)
    {
        await context.Response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static int WordCount(string text) => text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
