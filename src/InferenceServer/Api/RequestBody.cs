using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Microsoft.Net.Http.Headers;

namespace InferenceServer.Api;

/// <summary>
/// Turns the bytes of a request body into JSON, or into a 4xx naming what the client sent wrong: a body
/// Kestrel could not read (bad chunked framing, too large, too slow), a charset other than UTF-8, bytes that
/// are not UTF-8, JSON that does not parse, a key given twice, or a string escape that is not Unicode text
/// (a lone surrogate such as <c>"\ud800"</c>). Every string in the returned tree can be read without throwing.
/// </summary>
internal static class RequestBody
{
    /// <summary>The charset of a JSON Content-Type when it is not UTF-8 (JSON is UTF-8 by RFC 8259), else null.</summary>
    public static string? UnsupportedCharset(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.Charset is { Length: > 0 } charset
        && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
            ? charset.ToString()
            : null;

    public static async Task<byte[]> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (BadHttpRequestException ex)
        {
            throw new ApiException(Unreadable(ex));
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Kestrel reports some broken chunked framing (a chunk size past 64 bits) as a plain IOException.
            throw new ApiException(ApiError.BadRequest($"The request body could not be read: {ex.Message}", code: "invalid_body"));
        }
    }

    /// <summary>Kestrel's complaint about a body it could not read, as an OpenAI error with Kestrel's status.</summary>
    public static ApiError Unreadable(BadHttpRequestException ex) => ex.StatusCode == StatusCodes.Status413PayloadTooLarge
        ? new ApiError(ex.StatusCode, $"The request body is larger than this server accepts: {ex.Message}", "invalid_request_error", Code: "request_too_large")
        : new ApiError(ex.StatusCode, $"The request body could not be read: {ex.Message}", "invalid_request_error", Code: "invalid_body");

    public static JsonNode? ParseJson(byte[] body)
    {
        if (!Utf8.IsValid(body))
            throw new ApiException(ApiError.BadRequest(
                $"The request body is not valid UTF-8 (the first invalid byte is at offset {FirstInvalidUtf8(body)}). Send JSON as UTF-8 text.", code: "invalid_encoding"));
        JsonNode? node;
        try
        {
            // A key given twice is ambiguous (and JsonObject would throw on it later): refused while parsing.
            node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException ex)
        {
            throw new ApiException(ApiError.BadRequest($"We could not parse the JSON body of your request: {ex.Message} The body must be a JSON object."));
        }
        catch (InvalidOperationException)
        {
            // The duplicate-key check reads every key: one that escapes a lone surrogate fails there.
            throw LoneSurrogate("");
        }
        CheckStrings(node, "");
        return node;
    }

    private static long FirstInvalidUtf8(byte[] body)
    {
        var chars = ArrayPool<char>.Shared.Rent(body.Length);
        try
        {
            Utf8.ToUtf16(body, chars, out var read, out _, replaceInvalidSequences: false);
            return read;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>System.Text.Json parses <c>"\ud800"</c> but throws when the string is read: read every key and string once here.</summary>
    private static void CheckStrings(JsonNode? node, string path)
    {
        try
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, value) in obj) CheckStrings(value, path.Length == 0 ? key : $"{path}.{key}");
                    break;
                case JsonArray array:
                    for (var i = 0; i < array.Count; i++) CheckStrings(array[i], $"{path}[{i}]");
                    break;
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    value.GetValue<string>();
                    break;
            }
        }
        catch (InvalidOperationException)
        {
            throw LoneSurrogate(path);
        }
    }

    private static ApiException LoneSurrogate(string path) => new(ApiError.BadRequest(
        $"The request body holds a string that is not valid Unicode{(path.Length == 0 ? "" : $" in '{path}'")}: " +
        "a \\u escape of a lone surrogate (\\ud800-\\udfff without its pair).", path.Length == 0 ? null : path, "invalid_encoding"));
}
