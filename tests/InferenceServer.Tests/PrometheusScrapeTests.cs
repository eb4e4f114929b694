using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace InferenceServer.Tests;

/// <summary>
/// The real Prometheus (Debian's package; .ci/run installs it) scrapes the server's /metrics on loopback,
/// and a metric is read back through Prometheus's own HTTP API.
/// </summary>
[Collection(BusyServerCollection.Name)]
public class PrometheusScrapeTests(BusyServerFixture server)
{
    private const string PrometheusBinary = "/usr/bin/prometheus";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Prometheus_scrapes_the_metrics_and_serves_them_back()
    {
        Assert.True(File.Exists(PrometheusBinary), $"{PrometheusBinary} is missing: install Debian's prometheus package (bash .ci/run does).");
        (await server.Http.PostAsJsonAsync("v1/completions", new { model = ServerFixture.ModelId, prompt = "Once upon a time", max_tokens = 6 })).EnsureSuccessStatusCode();

        var work = Directory.CreateTempSubdirectory("prometheus-test-");
        var config = Path.Combine(work.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: inferenceserver
                static_configs:
                  - targets: ['{server.BaseUrl.Authority}']
            """);
        var port = FreePort();
        var start = new ProcessStartInfo(PrometheusBinary)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(work.FullName, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var prometheus = Process.Start(start)!;
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            double? tokens = null;
            while (tokens is null)
            {
                Assert.True(DateTime.UtcNow < deadline && !prometheus.HasExited, "Prometheus did not return the scraped metric within a minute.");
                await Task.Delay(250);
                try
                {
                    var answer = JsonNode.Parse(await api.GetStringAsync("api/v1/query?query=sum(inferenceserver_generated_tokens_total)"))!;
                    if (answer["data"]!["result"]!.AsArray() is [{ } series]) tokens = double.Parse((string)series["value"]![1]!, System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
            }
            Assert.True(tokens >= 6, $"scraped generation tokens: {tokens}");
        }
        finally
        {
            prometheus.Kill();
            await prometheus.WaitForExitAsync();
            work.Delete(recursive: true);
        }
    }
}
