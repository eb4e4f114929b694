using Microsoft.Extensions.Options;

namespace InferenceServer.Operations;

/// <summary>
/// Graceful shutdown. On SIGTERM/SIGINT (or any host stop) the host calls <see cref="StoppingAsync"/> before it
/// stops Kestrel or anything else: from then on new /v1 requests get 503 and /ready says 503, while the
/// requests already in flight run to their end, for at most the drain timeout. Only then does the host stop
/// the server and dispose the engine.
/// Invariant: <see cref="_inFlight"/> counts the /v1 requests admitted by <see cref="TryEnter"/> and not yet left.
/// </summary>
internal sealed class Drain(IOptions<ServerOptions> options, ILogger<Drain> logger) : IHostedLifecycleService
{
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.DrainTimeoutSeconds);

    /// <summary>Admits a request unless the server is draining; a true result must be paired with <see cref="Leave"/>.</summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (!_draining) return true;
        Leave();
        return false;
    }

    public void Leave()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && _draining) _idle.TrySetResult();
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var running = Volatile.Read(ref _inFlight);
        if (running == 0) return;
        logger.LogInformation("Draining: waiting up to {DrainTimeout} s for {InFlight} requests in flight; new requests get 503", Timeout.TotalSeconds, running);
        try
        {
            await _idle.Task.WaitAsync(Timeout, cancellationToken);
            logger.LogInformation("Drained: every request in flight finished");
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            logger.LogWarning("Drain timeout: {InFlight} requests still in flight are cut off", Volatile.Read(ref _inFlight));
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
