namespace InferenceServer.Serving;

/// <summary>The HTTP statuses that errors carry, named as ASP.NET's StatusCodes names them (this project does not reference ASP.NET).</summary>
internal static class StatusCodes
{
    public const int Status400BadRequest = 400;
    public const int Status404NotFound = 404;
    public const int Status415UnsupportedMediaType = 415;
    public const int Status429TooManyRequests = 429;
    public const int Status500InternalServerError = 500;
    public const int Status503ServiceUnavailable = 503;
}
