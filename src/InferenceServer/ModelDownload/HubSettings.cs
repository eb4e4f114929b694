namespace InferenceServer.ModelDownload;

/// <summary>
/// Where models come from and where they are kept. Endpoint and token follow the Hugging Face tools:
/// HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, else the token file `huggingface-cli login` writes.
/// </summary>
internal sealed record HubSettings(Uri Endpoint, string? Token, string CacheDirectory)
{
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    /// <summary>Reads HF_ENDPOINT, HF_TOKEN, HF_HOME and XDG_CACHE_HOME from configuration (environment variables land there).</summary>
    public static HubSettings From(IConfiguration configuration, string? cacheDirectory)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var xdgCache = NonEmpty(configuration["XDG_CACHE_HOME"]) ?? Path.Combine(home, ".cache");
        var hfHome = NonEmpty(configuration["HF_HOME"]) ?? Path.Combine(xdgCache, "huggingface");
        var tokenFile = Path.Combine(hfHome, "token");
        var token = NonEmpty(configuration["HF_TOKEN"]) ?? (File.Exists(tokenFile) ? NonEmpty(File.ReadAllText(tokenFile).Trim()) : null);
        var endpoint = NonEmpty(configuration["HF_ENDPOINT"]) is { } given ? new Uri(given.TrimEnd('/') + "/") : DefaultEndpoint;
        return new HubSettings(endpoint, token, NonEmpty(cacheDirectory) ?? Path.Combine(xdgCache, "inferenceserver", "models"));
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
