using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>
/// Backpressure (429 with Retry-After, retried by the SDK), metrics and traces, on a server with one sequence and
/// one waiting place. The <see cref="EngineGate"/> holds requests in flight while a test looks.
/// </summary>
[Collection(BusyServerCollection.Name)]
public class BackpressureAndTelemetryTests(BusyServerFixture server)
{
    private static object Completion(int maxTokens, bool stream = false) =>
        new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = maxTokens, stream };

    private async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task With_the_sequence_busy_and_the_queue_full_a_third_request_gets_429_with_retry_after()
    {
        server.Gate.Close();
        try
        {
            var running = server.Http.PostAsJsonAsync("v1/completions", Completion(4));
            await WaitUntil(() => server.Model.Engine.Snapshot.Running == 1, "the first request runs");
            // The engine is held, so of the next two one takes the waiting place and the other is refused.
            var next = new[] { server.Http.PostAsJsonAsync("v1/completions", Completion(4)), server.Http.PostAsJsonAsync("v1/completions", Completion(4)) };
            using var refused = await await Task.WhenAny(next);
            var waiting = next.Single(t => !t.IsCompleted || !ReferenceEquals(t.Result, refused));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter!.Delta);
            Assert.Equal("server_overloaded", (string)JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["code"]!);

            server.Gate.Open();
            Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
            // --max-queue-wait runs on the fixture's clock, which stands still here: however slow the machine, the waiting one is served.
            Assert.Equal(HttpStatusCode.OK, (await waiting).StatusCode);
        }
        finally
        {
            server.Gate.Open();
        }
    }

    [Fact]
    public async Task A_request_that_waits_longer_than_max_queue_wait_gets_429_not_a_hang()
    {
        server.Gate.Close();
        try
        {
            var running = server.Http.PostAsJsonAsync("v1/completions", Completion(4, stream: true));
            await WaitUntil(() => server.Model.Engine.Snapshot.Running == 1, "the first request runs");
            var waiting = server.Http.PostAsJsonAsync("v1/completions", Completion(4, stream: true));
            await WaitUntil(() => server.Model.Engine.QueuedRequests == 1, "the second request waits");
            server.Clock.Advance(TimeSpan.FromSeconds(2.5)); // past --max-queue-wait 2
            server.Gate.Open();

            using var expired = await waiting;
            Assert.Equal(HttpStatusCode.TooManyRequests, expired.StatusCode);
            Assert.NotNull(expired.Headers.RetryAfter);
            Assert.Contains("waited", (string)JsonNode.Parse(await expired.Content.ReadAsStringAsync())!["error"]!["message"]!);
            Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        }
        finally
        {
            server.Gate.Open();
        }
    }

    /// <summary>Counts the 429s the SDK's transport sees, before its retry policy hides them.</summary>
    private sealed class TooManyRequestsCounter : PipelinePolicy
    {
        public int Count;

        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex) =>
            throw new NotSupportedException();

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            await ProcessNextAsync(message, pipeline, currentIndex);
            if (message.Response?.Status == 429) Interlocked.Increment(ref Count);
        }
    }

    [Fact]
    public async Task A_burst_beyond_capacity_gets_429s_that_the_sdk_retries_until_every_request_is_served()
    {
        var counter = new TooManyRequestsCounter();
        var options = server.OpenAIOptions(maxRetries: 20);
        options.AddPolicy(counter, PipelinePosition.PerTry);
        var chat = new ChatClient(ServerFixture.ModelId, new System.ClientModel.ApiKeyCredential("unused"), options);

        server.Gate.Close();
        Task<System.ClientModel.ClientResult<ChatCompletion>>[] burst;
        try
        {
            burst = Enumerable.Range(0, 5).Select(_ => chat.CompleteChatAsync([new UserChatMessage("Tell me a story.")],
                new ChatCompletionOptions { MaxOutputTokenCount = 4 })).ToArray();
            await WaitUntil(() => Volatile.Read(ref counter.Count) >= 3, "three of the five are refused");
        }
        finally
        {
            server.Gate.Open();
        }
        var served = await Task.WhenAll(burst);
        Assert.All(served, result => Assert.Equal(4, result.Value.Usage.OutputTokenCount));
    }

    private async Task<double> Metric(string name, string? labelFilter = null)
    {
        var text = await server.Http.GetStringAsync("metrics");
        return text.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(line => labelFilter is null || line.Contains(labelFilter, StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Metrics_move_as_requests_run()
    {
        var tokens = await Metric("inferenceserver_generated_tokens_total");
        var prompts = await Metric("inferenceserver_prompt_tokens_total");
        var ttft = await Metric("inferenceserver_time_to_first_token_seconds_count");
        var finishedByLength = await Metric("inferenceserver_requests_total", "finish_reason=\"length\"");
        var decodes = await Metric("inferenceserver_engine_step_phase_seconds_count", "phase=\"decode\"");

        server.Gate.Close();
        try
        {
            var running = server.Http.PostAsJsonAsync("v1/completions", Completion(7));
            await WaitUntil(() => server.Model.Engine.Snapshot.Running == 1, "the request runs");
            Assert.True(await Metric("inferenceserver_running_sequences") >= 1);
            Assert.True(await Metric("inferenceserver_kv_cells_used") > 0);
            server.Gate.Open();
            (await running).EnsureSuccessStatusCode();
        }
        finally
        {
            server.Gate.Open();
        }

        Assert.True(await Metric("inferenceserver_generated_tokens_total") >= tokens + 7);
        Assert.True(await Metric("inferenceserver_prompt_tokens_total") > prompts);
        Assert.True(await Metric("inferenceserver_time_to_first_token_seconds_count") > ttft);
        await WaitUntil(() => Metric("inferenceserver_requests_total", "finish_reason=\"length\"").Result > finishedByLength, "the request is counted");
        // Every step is timed by phase: at least one decode per generated token fed back, and each phase as often as the decode.
        // (The last step's phases are recorded just after its finish reaches the client.)
        async Task<double[]> PhaseCounts() => await Task.WhenAll(new[] { "decode", "schedule", "sample", "output" }
            .Select(phase => Metric("inferenceserver_engine_step_phase_seconds_count", $"phase=\"{phase}\"")));
        await WaitUntil(() => PhaseCounts().Result.Distinct().Count() == 1, "every phase of every step is recorded");
        var stepsNow = (await PhaseCounts())[0];
        Assert.True(stepsNow >= decodes + 6, $"{stepsNow - decodes} decode steps timed for 7 tokens");
        Assert.True(await Metric("inferenceserver_engine_step_phase_seconds_sum", "phase=\"decode\"") > 0);
        Assert.True(await Metric("inferenceserver_kv_cache_bytes") > 0);
        var text = await server.Http.GetStringAsync("metrics");
        foreach (var name in new[]
                 {
                     "inferenceserver_queue_length", "inferenceserver_kv_cells_total", "inferenceserver_prefix_cache_query_tokens_total",
                     "inferenceserver_prefix_cache_hit_tokens_total", "inferenceserver_inter_token_latency_seconds_bucket",
                     "inferenceserver_e2e_request_latency_seconds_bucket", "inferenceserver_request_queue_time_seconds_bucket",
                 })
            Assert.Contains(name, text);
    }

    [Fact]
    public async Task A_request_is_traced_with_queue_prefill_and_decode_spans_under_its_http_span()
    {
        // The client's own trace id, sent as W3C traceparent, picks this request's spans out of the exported ones.
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(Completion(5)) };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await server.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();

        Activity[] Traced() => server.Spans.ToArray().Where(a => a is not null && a.TraceId == traceId).ToArray();
        await WaitUntil(() => Traced().Any(a => a.Kind == ActivityKind.Server), "the HTTP span is exported");
        var http = Traced().Single(a => a.Kind == ActivityKind.Server);
        var children = Traced().Where(a => a.ParentSpanId == http.SpanId).ToList();
        Assert.Equal(["queue", "prefill", "decode"], children.Select(c => c.DisplayName));
        var decode = children.Single(c => c.DisplayName == "decode");
        Assert.Equal(5, decode.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.True(children[0].StartTimeUtc <= children[1].StartTimeUtc && children[1].StartTimeUtc <= decode.StartTimeUtc);
    }
}
