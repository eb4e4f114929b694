namespace InferenceServer.Tests;

/// <summary>docs/configuration.md is written from the flags' definitions, so the reference cannot drift from the code.</summary>
public class ConfigurationDocsTests
{
    [Fact]
    public void Docs_configuration_md_is_what_the_flags_write()
    {
        var path = Path.Combine(TestFixtures.RepositoryRoot, "docs", "configuration.md");
        Assert.True(File.ReadAllText(path) == CommandLine.Reference(),
            "docs/configuration.md is stale: run `dotnet run --project src/InferenceServer -- --help-markdown > docs/configuration.md`.");
    }

    [Fact]
    public void The_reference_lists_each_flag_once_with_pipes_escaped()
    {
        var reference = CommandLine.Reference();
        var help = CommandLine.Help();
        foreach (var key in new[] { "ContextSize", "KvUnified", "ChatTemplate", "ApiKeys", "DraftMax" })
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(reference, $"\\| `{key}` \\|"));
        Assert.Contains("--kv-unified", help);
        Assert.Contains("`--chat-template NAME\\|FILE`", reference);
    }
}
