using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.LoadGen.Tests.Fakes;

namespace InferenceServer.LoadGen.Tests.EndToEnd;

/// <summary>
/// The tool against an in-process fake server with known timing. Bounds are generous (the machine is shared and noisy),
/// but each is tight enough to fail if a metric were measured from the wrong event: TTFT from the role chunk would be
/// near 0, ITL including the first-token wait would be near the TTFT, and so on.
/// </summary>
public sealed class LoadGenEndToEndTests : IDisposable
{
    private readonly LoadGenHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    private static string[] Target(FakeOpenAiServer server) => ["--base-url", server.BaseUrl.ToString(), "--model", "fake-model", "--no-progress", "--warmup", "0"];

    [Fact]
    public async Task Measures_ttft_itl_tpot_and_usage_tokens_of_streamed_chat_completions()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(200), InterTokenDelay = TimeSpan.FromMilliseconds(50), CachedTokens = 4,
        });
        var (exit, console, report) = await _harness.RunAsync(
            [.. Target(server), "--input-len", "12", "--output-len", "6", "--concurrency", "2", "--requests", "6", "--slo", "ttft:60s"]);

        Assert.Equal(0, exit);
        JsonElement level = report.Level(0);
        Assert.Equal(6, level.Int("completed"));
        Assert.Equal(0, level.Int("failed"));
        Assert.Equal(36, level.Int("total_output_tokens"));        // 6 requests × 6 tokens, from usage
        Assert.Equal(6 * 12, level.Int("total_prompt_tokens"));    // the fake reports the prompt's word count
        Assert.Equal(6 * 4, level.Int("total_cached_prompt_tokens"));
        Assert.Equal(0, level.Int("completed_without_usage"));
        Assert.InRange(level.Ms("ttft_ms", "mean"), 190, 1500);
        Assert.InRange(level.Ms("ttft_ms", "min"), 190, 1500);
        Assert.Equal(30, level.GetProperty("itl_ms").Int("count")); // 5 gaps per request
        Assert.InRange(level.Ms("itl_ms", "median"), 40, 400);
        Assert.InRange(level.Ms("tpot_ms", "mean"), 40, 400);
        Assert.InRange(level.Ms("e2el_ms", "min"), 200 + 5 * 50 - 10, 5000);
        Assert.Equal(6, level.Int("good_requests"));
        Assert.InRange(level.GetProperty("request_throughput").GetDouble(), 0.5, 10); // 2 clients, ≈0.45 s per request → ≈4.4/s
        Assert.Contains("TTFT", console);
        Assert.Contains("c=2", console);

        (string path, JsonObject body) = Assert.Single(server.Received.Take(1));
        Assert.Equal("/v1/chat/completions", path);
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.True(body["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.True(body["ignore_eos"]!.GetValue<bool>());
        Assert.Equal(6, body["max_tokens"]!.GetValue<int>());
        Assert.Equal("fake-model", body["model"]!.GetValue<string>());
        Assert.Equal(6, server.Received.Count);
    }

    [Fact]
    public async Task Several_models_are_used_in_turn_one_per_conversation()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(5), InterTokenDelay = TimeSpan.FromMilliseconds(1),
        });
        var (exit, _, _) = await _harness.RunAsync(
            ["--base-url", server.BaseUrl.ToString(), "--model", "base:a1,base:a2,base:a3", "--no-progress", "--warmup", "0", "--output-len", "2", "--requests", "9"]);

        Assert.Equal(0, exit);
        var models = server.Received.Select(r => r.Body["model"]!.GetValue<string>()).ToList();
        Assert.Equal(9, models.Count);
        Assert.All(models.GroupBy(m => m), g => Assert.Equal(3, g.Count()));
        Assert.Equal(["base:a1", "base:a2", "base:a3"], models.Distinct().Order());
    }

    [Fact]
    public async Task Counts_errors_by_kind_http_status_broken_stream_and_timeout()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(20), InterTokenDelay = TimeSpan.FromMilliseconds(5),
            Behavior = n => n switch
            {
                2 => new FakeBehavior.Status(429),
                3 => new FakeBehavior.Status(500),
                4 => new FakeBehavior.AbortAfter(2),
                5 => new FakeBehavior.EndEarly(2),
                6 => new FakeBehavior.Hang(),
                7 => new FakeBehavior.Status(429),
                _ => FakeBehavior.Normal,
            },
        });
        var (exit, _, report) = await _harness.RunAsync(
            [.. Target(server), "--input-len", "4", "--output-len", "4", "--concurrency", "2", "--requests", "10", "--timeout", "1500ms"]);

        Assert.Equal(0, exit);
        JsonElement level = report.Level(0);
        Assert.Equal(new Dictionary<string, int> { ["broken_stream"] = 2, ["http_429"] = 2, ["http_500"] = 1, ["timeout"] = 1 }, level.Errors());
        Assert.Equal(4, level.Int("completed"));
        Assert.Equal(6, level.Int("failed"));
        Assert.Equal(16, level.Int("total_output_tokens")); // failed requests' partial output is not counted
        JsonElement rows = report.GetProperty("requests")[0];
        Assert.Equal(10, rows.GetArrayLength());
        Assert.Contains(rows.EnumerateArray(), r => r.TryGetProperty("error", out JsonElement e) && e.GetString() == "http_500"
                                                   && r.GetProperty("error_detail").GetString()!.Contains("fake failure"));
    }

    [Fact]
    public async Task A_server_without_usage_chunks_is_measured_from_content_chunks()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(10), InterTokenDelay = TimeSpan.FromMilliseconds(5), Behavior = _ => new FakeBehavior.NoUsage(),
        });
        var (_, console, report) = await _harness.RunAsync([.. Target(server), "--output-len", "5", "--requests", "2"]);
        JsonElement level = report.Level(0);
        Assert.Equal(2, level.Int("completed"));
        Assert.Equal(2, level.Int("completed_without_usage"));
        Assert.Equal(10, level.Int("total_output_tokens"));
        Assert.Contains("no usage chunk", console);
    }

    [Fact]
    public async Task Multi_turn_conversations_resend_history_with_the_answers_received()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(5), InterTokenDelay = TimeSpan.FromMilliseconds(2),
        });
        var (exit, _, report) = await _harness.RunAsync(
            [.. Target(server), "--workload", "multi-turn", "--turns", "3", "--input-len", "5", "--output-len", "3", "--concurrency", "2", "--requests", "6"]);

        Assert.Equal(0, exit);
        Assert.Equal(6, report.Level(0).Int("completed"));
        List<JsonArray> histories = server.Received.Select(r => r.Body["messages"]!.AsArray()).ToList();
        Assert.Equal([1, 1, 3, 3, 5, 5], histories.Select(h => h.Count).Order());
        JsonArray third = histories.First(h => h.Count == 5);
        Assert.Equal(["user", "assistant", "user", "assistant", "user"], third.Select(m => m!["role"]!.GetValue<string>()));
        Assert.All(new[] { third[1], third[3] }, m => Assert.Equal(" t0 t1 t2", m!["content"]!.GetValue<string>())); // what the fake streamed
        // Later turns carry the earlier prompt, so the reported prompt grows: 5, then 5+3+5, then 5+3+5+3+5 words.
        Assert.Equal(2 * (5 + 13 + 21), report.Level(0).Int("total_prompt_tokens"));
    }

    [Fact]
    public async Task Completions_endpoint_sends_a_prompt_and_reads_text_chunks()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(100), InterTokenDelay = TimeSpan.FromMilliseconds(10),
        });
        var (exit, _, report) = await _harness.RunAsync(
            ["--base-url", server.BaseUrl.ToString(), "--no-progress", "--endpoint", "completions", "--input-len", "9", "--output-len", "4", "--requests", "2", "--warmup", "2"]);

        Assert.Equal(0, exit);
        Assert.Equal("fake-model", report.GetProperty("model").GetString()); // discovered from /v1/models
        Assert.Equal(4, server.Received.Count);                               // 2 warm-up + 2 measured
        Assert.Equal(2, report.Level(0).Int("sent"));
        Assert.Empty(server.Received.Take(2).Select(r => r.Body["prompt"]!.GetValue<string>())
            .Intersect(server.Received.Skip(2).Select(r => r.Body["prompt"]!.GetValue<string>()))); // warm-up prompts differ
        Assert.All(server.Received, r => Assert.Equal("/v1/completions", r.Path));
        Assert.Equal(9, server.Received.First().Body["prompt"]!.GetValue<string>().Split(' ').Length);
        JsonElement level = report.Level(0);
        Assert.Equal(8, level.Int("total_output_tokens"));
        Assert.InRange(level.Ms("ttft_ms", "min"), 90, 1500);
    }

    [Fact]
    public async Task Sweep_and_open_loop_write_json_markdown_and_charts()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(10), InterTokenDelay = TimeSpan.FromMilliseconds(5),
        });
        string markdown = _harness.PathOf("report.md"), charts = _harness.PathOf("charts");
        var (exit, console, report) = await _harness.RunAsync(
            [.. Target(server), "--output-len", "3", "--concurrency", "1,2", "--requests", "4", "--markdown", markdown, "--charts", charts, "--slo", "tpot:1s"]);
        Assert.Equal(0, exit);
        Assert.Equal(["c=1", "c=2"], report.GetProperty("levels").EnumerateArray().Select(l => l.GetProperty("label").GetString()));
        Assert.Equal(2, report.Level(1).Int("concurrency"));
        Assert.True(report.GetProperty("machine").GetProperty("logical_cores").GetInt32() >= 1);
        Assert.Contains("--concurrency 1,2", report.GetProperty("command_line").GetString());

        string[] pngs = Directory.GetFiles(charts, "*.png").Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(["latency_e2el.png", "latency_itl.png", "latency_tpot.png", "latency_ttft.png", "requests.png", "throughput.png"], pngs);
        foreach (string png in Directory.GetFiles(charts))
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4));
        Assert.Contains("6 charts written", console);

        // A second run appends an open-loop section to the same Markdown file.
        var (exit2, _, report2) = await _harness.RunAsync(
            [.. Target(server), "--output-len", "3", "--request-rate", "20,inf", "--max-concurrency", "2", "--requests", "4", "--markdown", markdown]);
        Assert.Equal(0, exit2);
        Assert.Equal(4, report2.Level(0).Int("completed"));
        Assert.Equal("Infinity", report2.Level(1).GetProperty("request_rate").GetString());
        // 4 arrivals at 20/s: the last is due 0.2 s after the first, so the level cannot finish sooner.
        Assert.True(report2.Level(0).GetProperty("duration_seconds").GetDouble() >= 0.19);

        string text = File.ReadAllText(markdown);
        Assert.Equal(2, text.Split("## loadgen random run").Length - 1);
        Assert.Contains("| c=2 | 4 | 0 |", text);
        Assert.Contains("| rate=20,max=2 | 4 | 0 |", text);
        Assert.Contains("logical cores", text);
        Assert.Contains("--request-rate 20,inf", text);
    }

    [Fact]
    public async Task Duration_cap_stops_the_run_and_aborts_requests_in_flight()
    {
        await using var server = await FakeOpenAiServer.StartAsync(new FakeServerSettings
        {
            FirstTokenDelay = TimeSpan.FromMilliseconds(10), InterTokenDelay = TimeSpan.FromMilliseconds(100),
        });
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (_, _, report) = await _harness.RunAsync(
            [.. Target(server), "--output-len", "100", "--concurrency", "2", "--requests", "50", "--duration", "700ms"]);

        Assert.InRange(started.Elapsed.TotalSeconds, 0.6, 8); // each answer would take ≈10 s
        JsonElement level = report.Level(0);
        Assert.Equal(2, level.Int("aborted"));
        Assert.Equal(0, level.Int("completed"));
        Assert.Equal(0, level.Int("failed"));
        Assert.Equal(2, level.Int("sent"));
    }

    [Fact]
    public async Task Refuses_a_non_loopback_target_without_sending_anything()
    {
        var (exit, console, _) = await _harness.RunAsync(["--base-url", "http://10.255.255.1:8080/v1", "--model", "m", "--requests", "1"]);
        Assert.Equal(2, exit);
        Assert.Contains("--allow-remote", console);
    }

    [Fact]
    public async Task Reports_an_unreachable_server_as_connection_errors()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        } // closed again: nothing listens there now
        var (exit, console, report) = await _harness.RunAsync(["--base-url", $"http://127.0.0.1:{port}/v1", "--model", "m", "--no-progress", "--requests", "2"]);
        Assert.Equal(1, exit);
        Assert.Equal(new Dictionary<string, int> { ["connection"] = 2 }, report.Level(0).Errors());
        Assert.Contains("every warm-up request failed (connection)", console);
    }
}
