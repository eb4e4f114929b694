using System.Threading.Channels;
using InferenceServer.Engine;

namespace InferenceServer.Api;

/// <summary>
/// How every front door hands an admitted request to its model's engine: under the request's prefix-cache tenant
/// and adapters, with the engine's refusals as API errors. The server's <see cref="EngineClient"/> adds admission
/// and telemetry around it.
/// </summary>
internal static class EngineSubmission
{
    public static ChannelReader<GenerationEvent> Submit(ResolvedRequest resolved, GenerationRequest request, CancellationToken cancellationToken)
    {
        request = request with { CacheIsolationKey = resolved.CacheKey(request.CacheIsolationKey), Adapters = resolved.Adapters };
        try
        {
            return resolved.Model.Engine.Submit(request, cancellationToken);
        }
        catch (EngineOverloadedException ex)
        {
            throw new ApiException(ApiError.Overloaded(ex.Message));
        }
        catch (AdapterUnloadedException ex)
        {
            throw new ApiException(AdapterSelection.NotFound(resolved.Model.Id, ex.AdapterName, "adapters"));
        }
    }

    /// <summary>
    /// Waits until every stream has its first event or has failed, so that a request the engine ends before it
    /// starts (it waited longer than --max-queue-wait, or the engine stopped) gets its error, not a broken success.
    /// </summary>
    public static async Task AwaitStartAsync(IEnumerable<ChannelReader<GenerationEvent>> streams, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var stream in streams) await stream.WaitToReadAsync(cancellationToken);
        }
        catch (QueueWaitExceededException ex)
        {
            throw new ApiException(ApiError.Overloaded(ex.Message));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(new ApiError(StatusCodes.Status503ServiceUnavailable, "The server is shutting down. Retry shortly.",
                "service_unavailable", Code: "server_shutting_down", RetryAfterSeconds: 1));
        }
    }
}
