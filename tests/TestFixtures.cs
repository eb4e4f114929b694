namespace InferenceServer.Testing;

/// <summary>
/// The repository's test fixtures (tests/fixtures: tiny models, chat templates, a vocabulary), found by
/// walking up from the test binaries. INFERENCE_TEST_MODELS and CHAT_TEMPLATES_DIR point at other folders.
/// </summary>
internal static class TestFixtures
{
    public static string Directory { get; } = Find();

    /// <summary>The repository's root folder (tests/fixtures is two levels below it).</summary>
    public static string RepositoryRoot { get; } = Path.GetFullPath(Path.Combine(Directory, "..", ".."));

    public static string ModelsDirectory { get; } = Override("INFERENCE_TEST_MODELS") ?? Path.Combine(Directory, "models");

    public static string ChatTemplatesDirectory { get; } = Override("CHAT_TEMPLATES_DIR") ?? Path.Combine(Directory, "chat-templates");

    public static string Model(string file) => Path.Combine(ModelsDirectory, file);

    public static string ChatTemplate(string name) => Path.Combine(ChatTemplatesDirectory, name + ".jinja");

    private static string? Override(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : null;

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (System.IO.Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    }
}
