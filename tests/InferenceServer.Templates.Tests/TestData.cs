namespace InferenceServer.Templates.Tests;

internal static class TestData
{
    /// <summary>shared/chat-templates beside the repository root (found by walking up), or $CHAT_TEMPLATES_DIR.</summary>
    public static string ChatTemplatesDirectory { get; } = Find();

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("CHAT_TEMPLATES_DIR") is { Length: > 0 } overridden) return overridden;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "chat-templates");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("shared/chat-templates not found above " + AppContext.BaseDirectory + " (set CHAT_TEMPLATES_DIR)");
    }

    public static IEnumerable<string> TemplateNames() =>
        Directory.GetFiles(ChatTemplatesDirectory, "*.jinja").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;
}

/// <summary>A clock fixed at one instant, whose local time zone is UTC.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}
