using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Api;

/// <summary>
/// The HTTP side of the request types the server shares with the in-process library (src/InferenceServer.Serving):
/// reading a body into a <see cref="RequestReader"/>, writing an <see cref="ApiError"/> or a whole JSON response.
/// </summary>
internal static class HttpBindings
{
    extension(RequestReader)
    {
        /// <param name="anyContentType">Reads the body as JSON whatever its Content-Type says (Ollama's API: <c>curl -d</c> sends a form type).</param>
        public static async Task<RequestReader> ReadAsync(HttpRequest request, CancellationToken cancellationToken, bool anyContentType = false)
        {
            if (request.ContentType is { } contentType && !anyContentType && !request.HasJsonContentType())
                throw new ApiException(new ApiError(StatusCodes.Status415UnsupportedMediaType,
                    $"Unsupported Content-Type '{contentType}': send the request body as application/json.", "invalid_request_error"));
            if (RequestBody.UnsupportedCharset(request) is { } charset)
                throw new ApiException(new ApiError(StatusCodes.Status415UnsupportedMediaType,
                    $"Unsupported charset '{charset}': send the JSON body as UTF-8.", "invalid_request_error", Code: "unsupported_charset"));

            var node = RequestBody.ParseJson(await RequestBody.ReadAsync(request, cancellationToken));
            return node is JsonObject obj
                ? new RequestReader(obj)
                : throw new ApiException(ApiError.BadRequest("The request body must be a JSON object."));
        }
    }

    extension(ApiError error)
    {
        public IResult ToResult() => new ErrorResult(error);

        /// <summary>Writes the error in the shape of the protocol the route speaks (<see cref="IErrorShape"/>), OpenAI's by default.</summary>
        public Task WriteAsync(HttpResponse response)
        {
            var shape = response.HttpContext.Features.Get<IErrorShape>();
            response.StatusCode = shape?.Status(error) ?? error.Status;
            if (error.RetryAfterSeconds is { } seconds) response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return shape is null
                ? response.WriteAsJsonAsync(error.Body, ApiJson.Options)
                : response.WriteAsJsonAsync(shape.Body(error), ApiJson.Options);
        }
    }

    extension(ApiJson)
    {
        /// <summary>
        /// A JSON response serialized whole before its status line, sent with its Content-Length: a response either
        /// completes or fails as a 500 before anything is sent, never a 200 cut mid-body (a failure while
        /// serializing a streamed body can only abort the connection after the status has gone).
        /// </summary>
        public static IResult Whole<T>(T value) => new WholeJson(JsonSerializer.SerializeToUtf8Bytes(value, ApiJson.Options));
    }

    extension(Operations.RequestIdentity)
    {
        public static Operations.RequestIdentity Of(HttpContext http) => http.Features.Get<Operations.RequestIdentity>() ?? Operations.RequestIdentity.Anonymous;
    }

    private sealed class ErrorResult(ApiError error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => error.WriteAsync(httpContext.Response);
    }

    private sealed class WholeJson(byte[] body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            httpContext.Response.ContentLength = body.Length;
            return httpContext.Response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
        }
    }
}
