namespace InferenceServer.ModelDownload;

/// <summary>Turns the model settings into a local file: the one given, or one downloaded from Hugging Face into the cache.</summary>
internal static class ModelSource
{
    /// <summary>The hub file the settings name (the default model when none is given), or null for a local file. Throws <see cref="ArgumentException"/>.</summary>
    public static HubFile? HubFileOf(ServerOptions options)
    {
        var model = string.IsNullOrWhiteSpace(options.Model) ? null : options.Model;
        if (!string.IsNullOrWhiteSpace(options.HfRepo) || !string.IsNullOrWhiteSpace(options.HfFile))
        {
            if (model is not null) throw new ArgumentException("Give the model either with -m or with --hf-repo and --hf-file, not both.");
            if (string.IsNullOrWhiteSpace(options.HfRepo) || string.IsNullOrWhiteSpace(options.HfFile))
                throw new ArgumentException("--hf-repo OWNER/REPO and --hf-file FILE.gguf go together: pass both.");
            return HubFile.FromRepoAndFile(options.HfRepo, options.HfFile);
        }
        if (model is null) return HubFile.Default;
        return HubFile.IsHubReference(model) ? HubFile.Parse(model) : null;
    }

    /// <summary>The local path of a model, downloading it first when it lives on the hub and is not cached yet.</summary>
    public static async Task<string> ResolveAsync(ModelSpec spec, string? modelCache, IConfiguration configuration, ILogger logger, CancellationToken cancellationToken)
    {
        if (spec.Hub is not { } file) return spec.LocalPath!;

        using var handler = HubDownloader.CreateHandler();
        var downloader = new HubDownloader(HubSettings.From(configuration, modelCache), handler, DownloadProgress.For(logger));
        var path = downloader.CachePath(file);
        if (File.Exists(path))
            logger.LogInformation("Using {Model} from the cache: {Path}", file, path);
        else
            logger.LogInformation("Downloading {Model} into {Path}", file, path);
        return await downloader.GetAsync(file, cancellationToken);
    }
}
