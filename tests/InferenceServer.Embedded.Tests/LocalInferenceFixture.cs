using System.Diagnostics;
using InferenceServer.Embedded;
using Microsoft.Extensions.AI;

namespace InferenceServer.Embedded.Tests;

/// <summary>
/// One in-process engine on the real stories260K model with Qwen 2.5's chat template (which renders tools, Hermes
/// syntax), as the HTTP tool tests use, and the chat client through MEAI's own pipeline: function invocation and
/// OpenTelemetry middleware, whose spans are collected.
/// </summary>
public sealed class LocalInferenceFixture : IAsyncLifetime
{
    public const string ModelId = "stories260K-chatml";
    public const string SourceName = "InferenceServer.Embedded.Tests";

    private readonly ActivityListener _listener;
    private readonly List<Activity> _activities = [];

    public LocalInferenceFixture()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (_activities) _activities.Add(activity);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public LocalInference Local { get; private set; } = null!;

    public IChatClient Chat { get; private set; } = null!;

    public IReadOnlyList<Activity> Activities
    {
        get { lock (_activities) return _activities.ToList(); }
    }

    public async Task InitializeAsync()
    {
        Local = await LocalInference.StartAsync(new LocalInferenceOptions
        {
            ModelPath = TestFixtures.Model("stories260K-chatml.gguf"),
            ChatTemplate = TestFixtures.ChatTemplate("Qwen-Qwen2.5-7B-Instruct"),
            ContextSize = 16384,
            Parallel = 16,
            Threads = 2,
        });
        Chat = new ChatClientBuilder(Local.GetChatClient())
            .UseFunctionInvocation()
            .UseOpenTelemetry(sourceName: SourceName)
            .Build();
    }

    public async Task DisposeAsync()
    {
        Chat.Dispose();
        await Local.DisposeAsync();
        _listener.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class LocalInferenceCollection : ICollectionFixture<LocalInferenceFixture>
{
    public const string Name = "local inference";
}
