using InferenceServer.Embedded;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the in-process engine with dependency injection.</summary>
public static class LocalInferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="LocalInference"/> singleton (its models load when it is first resolved, and unload when the
    /// container is disposed), its <see cref="IEmbeddingGenerator{String, Embedding}"/>, and its <see cref="IChatClient"/>,
    /// whose pipeline the returned builder extends (<c>.UseFunctionInvocation()</c>, <c>.UseOpenTelemetry()</c>, ...).
    /// </summary>
    public static ChatClientBuilder AddLocalInference(this IServiceCollection services, Action<LocalInferenceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new LocalInferenceOptions();
        configure(options);
        services.AddSingleton(provider => LocalInference.Start(options, provider.GetService<ILoggerFactory>()));
        services.AddEmbeddingGenerator(provider => provider.GetRequiredService<LocalInference>().GetEmbeddingGenerator());
        return services.AddChatClient(provider => provider.GetRequiredService<LocalInference>().GetChatClient());
    }
}
