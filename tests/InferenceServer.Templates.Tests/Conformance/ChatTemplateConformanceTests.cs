using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace InferenceServer.Templates.Tests.Conformance;

/// <summary>Every template × every conversation rendered by Python Jinja2 once for the whole class.</summary>
internal sealed class ReferenceFixture
{
    public Dictionary<string, ReferenceResult> Results { get; }
    public IReadOnlyList<(string Name, JsonObject Context)> Conversations { get; } = Conformance.Conversations.All();

    public ReferenceFixture()
    {
        var cases = TestData.TemplateNames().SelectMany(t => Conversations.Select(c =>
            (Id: $"{t}/{c.Name}", Template: File.ReadAllText(TestFixtures.ChatTemplate(t)), c.Context)));
        Results = ReferenceRenderer.Render(cases, Conformance.Conversations.Now);
    }
}

public sealed class ChatTemplateConformanceTests(ReferenceFixtureHandle reference, ITestOutputHelper output) : IClassFixture<ReferenceFixtureHandle>
{
    public static TheoryData<string> Templates() => new(TestData.TemplateNames());

    [Theory]
    [MemberData(nameof(Templates))]
    public void Renders_like_python_jinja2(string template)
    {
        var source = File.ReadAllText(TestFixtures.ChatTemplate(template));
        var options = new TemplateRenderOptions(new FixedClock(Conversations.Now));
        var failures = new StringBuilder();
        int passed = 0;
        ChatTemplate? parsed = null;
        Exception? parseError = null;
        try { parsed = ChatTemplate.Parse(source); }
        catch (TemplateSyntaxException e) { parseError = e; }

        foreach (var (name, context) in reference.Value.Conversations)
        {
            var expected = reference.Value.Results[$"{template}/{name}"];
            string? actual = null;
            Exception? error = parseError;
            if (parsed is not null)
            {
                try { actual = parsed.Render((JsonObject)context.DeepClone(), options); }
                catch (TemplateRenderException e) { error = e; }
            }
            string? mismatch = (expected.Ok, error) switch
            {
                (true, null) => actual == expected.Output ? null : $"output differs at {FirstDifference(expected.Output!, actual!)}",
                (true, _) => $"C# threw {error!.GetType().Name}: {error.Message}",
                (false, null) => $"Jinja2 raised {expected.Error} but C# rendered",
                (false, _) when expected.Raised != error is TemplateRaisedException => $"Jinja2 raised {expected.Error}, C# threw {error!.GetType().Name}: {error.Message}",
                _ => null,
            };
            if (!expected.Ok) output.WriteLine($"  {name}: both raise; Jinja2: {expected.Error}");
            if (mismatch is null) passed++;
            else failures.AppendLine($"  {name}: {mismatch}");
        }
        int raisedInJinja = reference.Value.Conversations.Count(c => !reference.Value.Results[$"{template}/{c.Name}"].Ok);
        output.WriteLine($"{template}: {passed}/{reference.Value.Conversations.Count} conversations match ({raisedInJinja} of them raise in Jinja2)");
        // Some templates reject a system message (gemma-2) or need their own kwargs (firefunction's `functions`).
        Assert.True(new[] { "system_user", "user_only", "extra_kwargs" }.Any(c => reference.Value.Results[$"{template}/{c}"].Ok),
            $"Jinja2 rendered none of the basic conversations: {reference.Value.Results[$"{template}/system_user"].Error}");
        Assert.True(failures.Length == 0, $"{template}: {passed}/{reference.Value.Conversations.Count} match\n{failures}");
    }

    private static string FirstDifference(string expected, string actual)
    {
        int i = 0;
        while (i < expected.Length && i < actual.Length && expected[i] == actual[i]) i++;
        string Around(string s) => s.Substring(Math.Max(0, i - 40), Math.Min(s.Length, i + 40) - Math.Max(0, i - 40)).ReplaceLineEndings("\\n");
        return $"char {i}\n    expected: «{Around(expected)}»\n    actual:   «{Around(actual)}»";
    }
}

/// <summary>Public wrapper so xUnit can build the (internal) reference fixture once per class.</summary>
public sealed class ReferenceFixtureHandle
{
    internal ReferenceFixture Value { get; } = new();
}
