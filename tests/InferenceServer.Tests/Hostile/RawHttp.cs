using System.Net.Sockets;
using System.Text;

namespace InferenceServer.Tests.Hostile;

/// <summary>One HTTP/1.x exchange over a raw socket, for requests no HTTP client would send.</summary>
internal static class RawHttp
{
    /// <summary>What came back: the status (0 when none), the body (de-chunked), and what went wrong on the wire.</summary>
    public sealed record Reply(int Status, string Headers, byte[] Body, string? WireProblem)
    {
        public string Text => Encoding.UTF8.GetString(Body);
    }

    /// <summary>Sends <paramref name="request"/> while reading the reply (a server may answer before the body is all sent).</summary>
    public static async Task<Reply> ExchangeAsync(Uri server, byte[] request, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cancel = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(server.Host, server.Port, cancel.Token);
        var sending = SendAsync(socket, request, cancel.Token);
        var received = new MemoryStream();
        string? problem = null;
        try
        {
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token)) > 0) received.Write(buffer, 0, read);
        }
        catch (SocketException ex)
        {
            problem = $"connection {ex.SocketErrorCode} while reading";
        }
        catch (OperationCanceledException)
        {
            problem = $"no end of reply within {timeout.TotalSeconds} s";
        }
        var sendProblem = await sending;
        // A request that could not be sent whole is a failure even when a reply came: HTTP clients report the reset, not the reply.
        return Parse(received.ToArray(), problem ?? sendProblem);
    }

    private static async Task<string?> SendAsync(Socket socket, byte[] request, CancellationToken cancellationToken)
    {
        try
        {
            for (var sent = 0; sent < request.Length;)
                sent += await socket.SendAsync(request.AsMemory(sent, Math.Min(256 * 1024, request.Length - sent)), SocketFlags.None, cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return $"connection {(ex as SocketException)?.SocketErrorCode.ToString() ?? ex.GetType().Name} while sending";
        }
    }

    /// <summary>Splits status line, headers and body, and checks the body's framing (Content-Length or chunked).</summary>
    private static Reply Parse(byte[] raw, string? problem)
    {
        var headerEnd = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        if (headerEnd < 0) return new Reply(0, "", [], problem ?? "no complete status line and headers");
        var headers = Encoding.ASCII.GetString(raw, 0, headerEnd);
        var status = int.TryParse(headers.Split(' ', 3).ElementAtOrDefault(1), out var s) ? s : 0;
        var body = raw[(headerEnd + 4)..];
        var lines = headers.Split("\r\n").Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToLookup(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        if (lines["transfer-encoding"].Any(v => v.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
        {
            var (content, complete) = Dechunk(body);
            return new Reply(status, headers, content, problem ?? (complete ? null : "chunked body ends before its last chunk"));
        }
        if (lines["content-length"].FirstOrDefault() is { } length && long.TryParse(length, out var declared) && declared != body.Length)
            return new Reply(status, headers, body, problem ?? $"body of {body.Length} bytes where Content-Length says {declared}");
        return new Reply(status, headers, body, problem);
    }

    private static (byte[] Content, bool Complete) Dechunk(byte[] body)
    {
        var content = new MemoryStream();
        var at = 0;
        while (true)
        {
            var lineEnd = body.AsSpan(at).IndexOf("\r\n"u8);
            if (lineEnd < 0) return (content.ToArray(), false);
            var sizeText = Encoding.ASCII.GetString(body, at, lineEnd).Split(';')[0];
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size)) return (content.ToArray(), false);
            at += lineEnd + 2;
            if (size == 0) return (content.ToArray(), true);
            if (at + size + 2 > body.Length) return (content.ToArray(), false);
            content.Write(body, at, size);
            at += size + 2;
        }
    }
}
