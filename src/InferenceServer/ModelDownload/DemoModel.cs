namespace InferenceServer.ModelDownload;

/// <summary>
/// The built-in demo model, TinyStories-656K-Q8_0 (750 KB, Apache-2.0; embedded from tests/fixtures/models): served
/// when no model is given and the default model can be neither found in the cache nor downloaded, so that the first
/// run works offline. It only writes short children's stories.
/// </summary>
internal static class DemoModel
{
    public const string Id = "TinyStories-656K-Q8_0";
    private const string ResourceName = "demo-model.gguf";

    /// <summary>The demo model's spec, its file written from the assembly into the model cache first (once).</summary>
    public static ModelSpec Spec(ServerOptions options, string cacheDirectory)
    {
        using var embedded = typeof(DemoModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The assembly lacks its {ResourceName} resource.");
        var path = Path.Combine(cacheDirectory, "builtin", Id + ".gguf");
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length != embedded.Length)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var part = path + ".part";
                using (var file = File.Create(part)) embedded.CopyTo(file);
                File.Move(part, path, overwrite: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new Llama.ModelLoadException($"The built-in demo model cannot be written to {path}: {ex.Message}", ex);
        }
        return new ModelSpec(Id, path, null, options.ContextSize, options.Parallel, null, false, options.ChatTemplate);
    }
}
