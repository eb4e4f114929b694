using System.Text.Json;
using Json.Schema;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

// Collections run one after another: LLamaSharp's first native load races with llama_log_set on another
// thread ("The library has already loaded, you can't change the configurations"), which fails a server start.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace InferenceServer.Tests;

/// <summary>
/// A real server for tool calling: stories260K-chatml (byte-fallback vocabulary, so it can spell JSON) with
/// Qwen 2.5's real chat template from tests/fixtures/chat-templates (Hermes-style &lt;tool_call&gt; tags).
/// A story model never calls tools on its own: forced calls are what the grammar guarantees.
/// </summary>
public sealed class ToolServerFixture : ServerFixture
{
    public new const string ModelId = "stories260K-chatml";
    public const string TemplateName = "Qwen-Qwen2.5-7B-Instruct";

    public static string TemplatePath => TestFixtures.ChatTemplate(TemplateName);

    protected override string[] Args =>
        ["-m", TestFixtures.Model("stories260K-chatml.gguf"), "--chat-template", TemplatePath, "--port", "0", "-np", "4", "-c", "8192", "-t", "1",
         // tests/js/predicted-outputs.test.js checks verified drafts: every prediction is verified in full, whatever this machine's load.
         "--speculative-policy", "always"];
}

[CollectionDefinition(Name)]
public sealed class ToolServerCollection : ICollectionFixture<ToolServerFixture>
{
    public const string Name = "tool server";
}

/// <summary>An independent judge of tool arguments: JsonSchema.Net.</summary>
internal static class SchemaCheck
{
    public static void AssertValid(string schemaText, string json, string context)
    {
        using var document = JsonDocument.Parse(json);
        var schema = JsonSchema.FromText(schemaText, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        var result = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, $"{context}: arguments do not validate: {json}");
    }
}
