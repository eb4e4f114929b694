using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using InferenceServer.Api;
using Microsoft.AspNetCore.Connections;

namespace InferenceServer.Operations;

/// <summary>
/// Gives OpenAI's error body to the errors Kestrel answers by itself, before any middleware runs (a request
/// line it cannot parse, an encoded NUL in the path, a URL or headers over its limits, HTTP/1.0 without a
/// length): Kestrel writes those with no body and no hook (dotnet/aspnetcore#4726). A connection middleware
/// watches what Kestrel writes on HTTP/1.x connections, and a flush that is exactly one bodiless error
/// response (a 4xx/5xx status line, <c>Content-Length: 0</c>, nothing after the headers) gets the JSON body.
/// The server's own errors always carry a body, so only Kestrel's match. Kestrel's 505 for an unknown HTTP
/// version becomes a 400: it is the client's mistake, and clients retry 5xx answers.
/// </summary>
internal static class KestrelErrorBodies
{
    public static void Use(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) => listen.Use(next => async connection =>
    {
        var transport = connection.Transport;
        connection.Transport = new Pipe(transport.Input, new ErrorBodyWriter(transport.Output));
        try
        {
            await next(connection);
        }
        finally
        {
            connection.Transport = transport;
        }
    });

    /// <summary>The JSON body for a bodiless response's header block, or null when the block is not one.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> flushed)
    {
        // "HTTP/1.1 414 URI Too Long\r\n...\r\n\r\n": the whole flush, with status 400-599.
        if (flushed.Length < 16 || !flushed.StartsWith("HTTP/1."u8) || flushed[8] != (byte)' ' || flushed[9] is not ((byte)'4' or (byte)'5')) return null;
        var end = flushed.IndexOf("\r\n\r\n"u8);
        if (end != flushed.Length - 4) return null;
        var text = Encoding.ASCII.GetString(flushed);
        if (!text.Contains("\r\nContent-Length: 0\r\n", StringComparison.OrdinalIgnoreCase)) return null;
        if (!int.TryParse(text.AsSpan(9, 3), out var status)) return null;

        var body = Encoding.UTF8.GetBytes(new ApiError(status, Message(status, text[13..text.IndexOf('\r')]), "invalid_request_error").ToJson());
        if (status == 505) text = string.Concat(text.AsSpan(0, 9), "400 Bad Request", text.AsSpan(text.IndexOf('\r')));
        var headers = text[..^2].Replace("\r\nContent-Length: 0\r\n", $"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\n",
            StringComparison.OrdinalIgnoreCase);
        return [.. Encoding.ASCII.GetBytes(headers + "\r\n"), .. body];
    }

    private static string Message(int status, string reason) => status switch
    {
        400 => "Bad Request: the server could not parse the HTTP request (its request line, URL or headers).",
        408 => "Request Timeout: the request line and headers did not arrive in time.",
        411 => "Length Required: an HTTP/1.0 request with a body must give its Content-Length.",
        413 => "The request body is larger than this server accepts.",
        414 => "URI Too Long: the request URL is longer than this server accepts.",
        431 => "Request Header Fields Too Large: the request headers are larger than this server accepts.",
        505 => "HTTP version not supported: send HTTP/1.1 or HTTP/1.0 (HTTP/2 is negotiated, not named in a request line).",
        _ => $"{reason}.",
    };

    private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }

    /// <summary>Holds each flush's bytes until the flush, to look at them whole, then passes them (or the rewrite) on.</summary>
    private sealed class ErrorBodyWriter(PipeWriter inner) : PipeWriter
    {
        private ArrayBufferWriter<byte> _pending = new();

        public override void Advance(int bytes) => _pending.Advance(bytes);
        public override Memory<byte> GetMemory(int sizeHint = 0) => _pending.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => _pending.GetSpan(sizeHint);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override bool CanGetUnflushedBytes => true;
        public override long UnflushedBytes => _pending.WrittenCount;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            PassOn();
            return inner.FlushAsync(cancellationToken);
        }

        public override void Complete(Exception? exception = null)
        {
            PassOn();
            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            PassOn();
            await inner.FlushAsync();
            await inner.CompleteAsync(exception);
        }

        private void PassOn()
        {
            if (_pending.WrittenCount == 0) return;
            var written = _pending.WrittenSpan;
            inner.Write(Rewrite(written) ?? written);
            // A large response leaves a large buffer behind: let it go.
            if (_pending.Capacity > 1 << 20) _pending = new ArrayBufferWriter<byte>();
            else _pending.ResetWrittenCount();
        }
    }
}
