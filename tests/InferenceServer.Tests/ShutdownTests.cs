using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace InferenceServer.Tests;

/// <summary>Graceful shutdown: new requests refused with 503 while the streams in flight run to their end, then exit 0.</summary>
public partial class ShutdownTests
{
    private static object Stream(int maxTokens) =>
        new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = maxTokens, stream = true };

    private static async Task WaitUntil(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Stopping_refuses_new_requests_with_503_and_not_ready_while_the_stream_in_flight_finishes()
    {
        var server = new BusyServerFixture();
        await server.InitializeAsync();
        try
        {
            server.Gate.Close();
            var inFlight = server.Http.PostAsJsonAsync("v1/completions", Stream(8));
            await WaitUntil(() => Task.FromResult(server.Model.Engine.Snapshot.Running == 1), "the stream runs");

            var stopping = server.App.StopAsync();
            await WaitUntil(async () => (await server.Http.GetAsync("ready")).StatusCode == HttpStatusCode.ServiceUnavailable, "/ready says draining");
            Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health")).StatusCode);
            using var refused = await server.Http.PostAsJsonAsync("v1/completions", Stream(8));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("server_shutting_down", (string)JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["code"]!);
            Assert.False(stopping.IsCompleted);

            server.Gate.Open();
            using var response = await inFlight;
            var body = await response.Content.ReadAsStringAsync();
            Assert.Contains("\"finish_reason\":\"length\"", body);
            Assert.EndsWith("data: [DONE]", body.TrimEnd());
            await stopping;
        }
        finally
        {
            server.Gate.Open();
            await server.DisposeAsync();
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();

    [Fact]
    public async Task Sigterm_to_the_real_server_process_lets_the_stream_finish_and_exits_0()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "InferenceServer.dll"), "-m", TestFixtures.Model(ServerFixture.ModelFile), "--port", "0", "-np", "1", "-t", "1" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null) return;
            lock (output) output.AppendLine(line.Data);
            if (ListeningOn().Match(line.Data) is { Success: true } match) address.TrySetResult(new Uri(match.Groups[1].Value + "/"));
        };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (output) output.AppendLine(line.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = await address.Task.WaitAsync(TimeSpan.FromSeconds(60)), Timeout = TimeSpan.FromMinutes(2) };
            await WaitUntil(async () => (await http.GetAsync("ready")).StatusCode == HttpStatusCode.OK, "the model is loaded");

            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(Stream(400)) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var first = await reader.ReadLineAsync();
            Assert.StartsWith("data: ", first);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync();
            var rest = await reader.ReadToEndAsync();
            Assert.EndsWith("data: [DONE]", rest.TrimEnd());

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            string log;
            lock (output) log = output.ToString();
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}:\n{log}");
            Assert.Contains("Application is shutting down", log);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
