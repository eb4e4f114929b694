using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace InferenceServer.Tests.Deploy;

/// <summary>
/// Offline checks of the deployment files (no cluster, no Docker here): every YAML parses, the Kubernetes objects
/// have the fields the API server requires, and the probes, ports, settings, metric names and selectors line
/// up with the server and with each other. Not a schema validation against the Kubernetes OpenAPI.
/// </summary>
public sealed partial class DeployManifestTests
{
    private static readonly string Root = RepositoryRoot();

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "InferenceServer.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("InferenceServer.sln not found above the test binaries.");
    }

    private static IEnumerable<string> DeployYamlFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "deploy"), "*.y*ml", SearchOption.AllDirectories)
            .Append(Path.Combine(Root, "docker-compose.yml"));

    private static List<YamlMappingNode> Documents(string file)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(file)) stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static List<YamlMappingNode> KubernetesObjects() =>
        Directory.EnumerateFiles(Path.Combine(Root, "deploy", "kubernetes"), "*.yaml")
            .Where(f => !f.EndsWith("values.yaml") && Path.GetFileName(f) != "kustomization.yaml") // Helm values and kustomize input are not API objects
            .SelectMany(Documents)
            .ToList();

    private static YamlNode At(YamlNode node, params object[] path)
    {
        foreach (var step in path)
            node = step is int index ? ((YamlSequenceNode)node)[index] : ((YamlMappingNode)node)[(string)step];
        return node;
    }

    private static string Text(YamlNode node, params object[] path) => ((YamlScalarNode)At(node, path)).Value!;

    private static YamlMappingNode Find(string kind, string name) =>
        KubernetesObjects().Single(o => Text(o, "kind") == kind && Text(o, "metadata", "name") == name);

    private static YamlMappingNode ServerContainer() =>
        (YamlMappingNode)At(Find("Deployment", "inferenceserver"), "spec", "template", "spec", "containers", 0);

    private static Dictionary<string, string> ServerEnvironment() =>
        ((YamlSequenceNode)At(ServerContainer(), "env")).Cast<YamlMappingNode>()
            .Where(e => e.Children.ContainsKey("value"))
            .ToDictionary(e => Text(e, "name"), e => Text(e, "value"));

    [Fact]
    public void Every_deploy_file_parses_and_every_Kubernetes_object_has_apiVersion_kind_and_name()
    {
        foreach (var file in DeployYamlFiles()) Assert.NotEmpty(Documents(file));
        var objects = KubernetesObjects();
        Assert.Contains(objects, o => Text(o, "kind") == "InferencePool");
        foreach (var o in objects)
        {
            Assert.Matches("^[a-z0-9.]*/?v[0-9]+((alpha|beta)[0-9]+)?$", Text(o, "apiVersion"));
            Assert.Matches("^[A-Z][A-Za-z]+$", Text(o, "kind"));
            Assert.Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", Text(o, "metadata", "name"));
        }
        foreach (var resource in (YamlSequenceNode)At(Documents(Path.Combine(Root, "deploy", "kubernetes", "kustomization.yaml"))[0], "resources"))
            Assert.True(File.Exists(Path.Combine(Root, "deploy", "kubernetes", ((YamlScalarNode)resource).Value!)), $"kustomization lists a missing {resource}");
    }

    [Fact]
    public void Probes_hit_the_servers_health_and_ready_routes_on_the_port_it_listens_on()
    {
        var container = ServerContainer();
        var env = ServerEnvironment();
        var port = At(container, "ports", 0);
        Assert.Equal("http", Text(port, "name"));
        Assert.Equal(env["Server__Port"], Text(port, "containerPort"));
        Assert.Equal("0.0.0.0", env["Server__Host"]);

        Assert.Equal("/health", Text(container, "startupProbe", "httpGet", "path"));
        Assert.Equal("/health", Text(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("/ready", Text(container, "readinessProbe", "httpGet", "path"));
        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
            Assert.Equal("http", Text(container, probe, "httpGet", "port"));

        var service = Find("Service", "inferenceserver");
        Assert.Equal("http", Text(service, "spec", "ports", 0, "targetPort"));
        var pool = Find("InferencePool", "inferenceserver");
        Assert.Equal(env["Server__Port"], Text(pool, "spec", "targetPorts", 0, "number"));
    }

    [Fact]
    public void Every_selector_picks_the_server_pods()
    {
        var podLabels = (YamlMappingNode)At(Find("Deployment", "inferenceserver"), "spec", "template", "metadata", "labels");
        YamlNode[] selectors =
        [
            At(Find("Deployment", "inferenceserver"), "spec", "selector", "matchLabels"),
            At(Find("Service", "inferenceserver"), "spec", "selector"),
            At(Find("InferencePool", "inferenceserver"), "spec", "selector", "matchLabels"),
            At(Find("PodMonitor", "inferenceserver"), "spec", "selector", "matchLabels"),
        ];
        foreach (var selector in selectors.Cast<YamlMappingNode>())
            foreach (var (key, value) in selector.Children)
                Assert.Equal(value, podLabels[key]);
        Assert.Equal("inferenceserver", Text(Find("HorizontalPodAutoscaler", "inferenceserver"), "spec", "scaleTargetRef", "name"));
    }

    [Fact]
    public void Termination_grace_outlasts_the_preStop_pause_and_the_drain_timeout()
    {
        var pod = At(Find("Deployment", "inferenceserver"), "spec", "template", "spec");
        var grace = int.Parse(Text(pod, "terminationGracePeriodSeconds"));
        var preStop = int.Parse(Text(ServerContainer(), "lifecycle", "preStop", "exec", "command", 1));
        var drain = int.Parse(ServerEnvironment()["Server__DrainTimeout"]);
        Assert.True(grace > preStop + drain, $"terminationGracePeriodSeconds {grace} must exceed preStop {preStop} s + drain {drain} s");
    }

    // Settings the ops branch adds (--drain-timeout); delete from here once ServerOptions has them.
    private static readonly string[] SettingsComingFromOtherBranches = ["DrainTimeout"];

    [Fact]
    public void Every_Server_setting_the_deploy_files_set_is_an_option_the_server_reads()
    {
        var options = typeof(ServerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name)
            .Concat(SettingsComingFromOtherBranches).ToHashSet();
        var files = DeployYamlFiles().Append(Path.Combine(Root, "Dockerfile")).Append(Path.Combine(Root, ".env.example"));
        var used = files.SelectMany(f => ServerSetting().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Name: m.Groups[1].Value))).ToList();

        Assert.Contains(used, u => u.Name == "NativeLibDir");
        foreach (var (file, name) in used) Assert.True(options.Contains(name), $"{file} sets Server__{name}, which ServerOptions does not have");
    }

    [Fact]
    public void Every_metric_the_deploy_files_use_is_declared_in_metric_names_txt()
    {
        var declared = File.ReadLines(Path.Combine(Root, "deploy", "metric-names.txt"))
            .Where(line => line.StartsWith("inferenceserver_")).Select(line => line.Split(' ')[0]).ToHashSet();
        var files = Directory.EnumerateFiles(Path.Combine(Root, "deploy"), "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("metric-names.txt") && !f.EndsWith(".md"));
        var used = files.SelectMany(f => MetricName().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Name: m.Value))).ToList();

        Assert.Contains(used, u => u.File == "inferenceserver.json");
        foreach (var (file, name) in used)
        {
            var series = Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(declared.Contains(name) || declared.Contains(series), $"{file} uses {name}, not declared in deploy/metric-names.txt");
        }
    }

    [Fact]
    public void The_autoscaler_scales_on_metrics_that_prometheus_adapter_serves()
    {
        var adapterRules = (YamlSequenceNode)At(Documents(Path.Combine(Root, "deploy", "kubernetes", "prometheus-adapter-values.yaml"))[0], "rules", "custom");
        var served = adapterRules.Select(rule => Text(rule, "name", "as")).ToHashSet();
        var hpaMetrics = (YamlSequenceNode)At(Find("HorizontalPodAutoscaler", "inferenceserver"), "spec", "metrics");

        Assert.NotEmpty(hpaMetrics);
        foreach (var metric in hpaMetrics) Assert.Contains(Text(metric, "pods", "metric", "name"), served);
    }

    [Fact]
    public void The_Grafana_dashboard_shows_throughput_ttft_queue_and_cache_hit_rate()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "deploy", "grafana", "dashboards", "inferenceserver.json")));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();

        Assert.Contains(expressions, e => e.Contains("rate(inferenceserver_generated_tokens_total"));
        Assert.Contains(expressions, e => e.Contains("inferenceserver_time_to_first_token_seconds_bucket"));
        Assert.Contains(expressions, e => e.Contains("inferenceserver_queue_length"));
        Assert.Contains(expressions, e => e.Contains("inferenceserver_prefix_cache_hit_tokens_total"));
    }

    [GeneratedRegex(@"Server__([A-Za-z]+)")]
    private static partial Regex ServerSetting();

    [GeneratedRegex(@"\binferenceserver_[a-z_]+")]
    private static partial Regex MetricName();
}
