using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Templates.Tests.Conformance;

internal sealed record ReferenceResult(bool Ok, string? Output, bool Raised, bool Syntax, string? Error);

/// <summary>
/// Renders cases with Python Jinja2 (Debian's python3-jinja2, run with /usr/bin/python3) through reference_render.py,
/// which configures Jinja2 as transformers' apply_chat_template does. One process renders every case.
/// </summary>
internal static class ReferenceRenderer
{
    public const string Python = "/usr/bin/python3";

    public static Dictionary<string, ReferenceResult> Render(IEnumerable<(string Id, string Template, JsonObject Context)> cases, DateTimeOffset now)
    {
        var request = new JsonObject
        {
            ["now"] = now.ToString("yyyy-MM-ddTHH:mm:ss"),
            ["cases"] = new JsonArray(cases.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id, ["template"] = c.Template, ["context"] = c.Context.DeepClone(),
            }).ToArray()),
        };
        var script = Path.Combine(AppContext.BaseDirectory, "reference_render.py");
        var psi = new ProcessStartInfo(Python, [script])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false), StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment["PYTHONIOENCODING"] = "utf-8";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start python");
        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        process.StandardInput.Write(request.ToJsonString());
        process.StandardInput.Close();
        process.WaitForExit();
        string stdout = stdoutTask.Result, stderr = stderrTask.Result;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"reference renderer failed (needs apt package python3-jinja2 for {Python}): {stderr}");

        var results = new Dictionary<string, ReferenceResult>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            bool ok = r.GetProperty("ok").GetBoolean();
            results[r.GetProperty("id").GetString()!] = ok
                ? new ReferenceResult(true, r.GetProperty("output").GetString(), false, false, null)
                : new ReferenceResult(false, null, r.GetProperty("raised").GetBoolean(), r.GetProperty("syntax").GetBoolean(), r.GetProperty("error").GetString());
        }
        return results;
    }
}
