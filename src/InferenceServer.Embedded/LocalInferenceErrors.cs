using InferenceServer.Api;

namespace InferenceServer.Embedded;

/// <summary>
/// The server's request errors as .NET exceptions: a request the caller must change (the HTTP API's 400 and 404) is an
/// <see cref="ArgumentException"/> naming the request field; a model too busy to queue it (429) or stopping (503) is an
/// <see cref="InvalidOperationException"/>. The original error is the inner exception.
/// </summary>
internal static class LocalInferenceErrors
{
    public static Exception From(ApiException ex) => ex.Error.Status is 400 or 404
        ? new ArgumentException(ex.Message, ex.Error.Param, ex)
        : new InvalidOperationException(ex.Message, ex);
}
