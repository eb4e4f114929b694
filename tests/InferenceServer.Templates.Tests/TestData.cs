namespace InferenceServer.Templates.Tests;

internal static class TestData
{
    public static IEnumerable<string> TemplateNames() =>
        Directory.GetFiles(TestFixtures.ChatTemplatesDirectory, "*.jinja").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;
}

/// <summary>A clock fixed at one instant, whose local time zone is UTC.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}
