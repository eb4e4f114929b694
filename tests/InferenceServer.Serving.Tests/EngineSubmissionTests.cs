using System.Threading.Channels;
using InferenceServer.Api;
using InferenceServer.Engine;

namespace InferenceServer.Serving.Tests;

/// <summary>A request the engine ends before its first token gets an API error before any response starts.</summary>
public sealed class EngineSubmissionTests
{
    private static ChannelReader<GenerationEvent> Ended(Exception? error)
    {
        var channel = Channel.CreateUnbounded<GenerationEvent>();
        channel.Writer.Complete(error);
        return channel.Reader;
    }

    private static ChannelReader<GenerationEvent> Started()
    {
        var channel = Channel.CreateUnbounded<GenerationEvent>();
        channel.Writer.TryWrite(new TextDelta("Once", null));
        return channel.Reader;
    }

    [Fact]
    public async Task A_request_that_waited_past_max_queue_wait_is_429_server_overloaded_with_retry_after()
    {
        var error = (await Assert.ThrowsAsync<ApiException>(() =>
            EngineSubmission.AwaitStartAsync([Started(), Ended(new QueueWaitExceededException(TimeSpan.FromSeconds(2)))], CancellationToken.None))).Error;

        Assert.Equal((429, "rate_limit_error", "server_overloaded"), (error.Status, error.Type, error.Code));
        Assert.NotNull(error.RetryAfterSeconds);
        Assert.Contains("waited 2 s", error.Message);
    }

    [Fact]
    public async Task A_request_the_stopping_engine_ended_is_503_server_shutting_down()
    {
        var error = (await Assert.ThrowsAsync<ApiException>(() =>
            EngineSubmission.AwaitStartAsync([Ended(new OperationCanceledException("The engine stopped."))], CancellationToken.None))).Error;

        Assert.Equal((503, "server_shutting_down"), (error.Status, error.Code));
        Assert.NotNull(error.RetryAfterSeconds);
    }

    [Fact]
    public async Task A_client_that_goes_away_while_waiting_is_cancelled_not_answered()
    {
        using var gone = new CancellationTokenSource();
        var waiting = EngineSubmission.AwaitStartAsync([Channel.CreateUnbounded<GenerationEvent>().Reader], gone.Token);
        gone.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public async Task Streams_that_started_pass()
    {
        await EngineSubmission.AwaitStartAsync([Started(), Started()], CancellationToken.None);
    }
}
