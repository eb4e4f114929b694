using Microsoft.AspNetCore.Http.Features;

namespace InferenceServer.Operations;

/// <summary>
/// --max-body-bytes, enforced while the endpoint reads the body instead of by Kestrel. Kestrel refuses an
/// oversized body by closing the connection with the rest unread, and a client still sending sees a reset
/// instead of the 413. Here the read fails (the endpoint answers 413 with the OpenAI error) and, the
/// connection's own limit being lifted, Kestrel reads and discards the rest of the body after the response,
/// for at most its drain timeout (5 s), so the client reads the 413.
/// </summary>
internal static class RequestBodyLimit
{
    public static void Use(WebApplication app, long maxBytes) => app.Use((http, next) =>
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = null;
            http.Request.Body = new LimitedStream(http.Request.Body, maxBytes, http.Request.ContentLength);
        }
        return next(http);
    });

    /// <summary>A request body that throws Kestrel's own 413 exception once more than the limit is read (or announced).</summary>
    private sealed class LimitedStream(Stream inner, long maxBytes, long? declaredBytes) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, Check(count)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer[..Check(buffer.Length)], cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Check(int count) => declaredBytes > maxBytes ? throw TooLarge() : count;

        private int Count(int read)
        {
            _read += read;
            return _read > maxBytes ? throw TooLarge() : read;
        }

        private BadHttpRequestException TooLarge() =>
            new($"Request body too large. The max request body size is {maxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
