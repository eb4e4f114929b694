using System.Net;

namespace InferenceServer.LoadGen.Cli;

/// <summary>Refuses targets off this machine unless explicitly allowed: a load generator must not hit someone else's server by accident.</summary>
internal static class TargetGuard
{
    /// <summary>True for <c>localhost</c> and loopback IP literals. Other names are not resolved: DNS could point anywhere.</summary>
    public static bool IsLoopback(Uri url) =>
        url.IsLoopback
        || string.Equals(url.IdnHost, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(url.IdnHost, out IPAddress? address) && IPAddress.IsLoopback(address));

    public static void Check(Uri url, bool allowRemote)
    {
        if (!allowRemote && !IsLoopback(url))
            throw new UsageException($"Refusing non-loopback target '{url.Host}'; pass --allow-remote if you mean it.");
    }
}
