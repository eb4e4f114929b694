namespace InferenceServer.ModelDownload;

/// <summary>A file in a Hugging Face model repository, written hf://OWNER/REPO/FILE.gguf.</summary>
internal sealed record HubFile(string Owner, string Repository, string File)
{
    public const string Scheme = "hf://";

    /// <summary>
    /// What the server serves when no model is given: SmolLM2-360M-Instruct at Q8_0 (386 MB), published by the
    /// model's authors with a chat template, small enough to download and run on any laptop CPU.
    /// </summary>
    public static readonly HubFile Default = new("HuggingFaceTB", "SmolLM2-360M-Instruct-GGUF", "smollm2-360m-instruct-q8_0.gguf");

    public string Repo => $"{Owner}/{Repository}";

    public static bool IsHubReference(string model) => model.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses hf://OWNER/REPO/FILE.gguf; throws <see cref="ArgumentException"/> naming the expected form.</summary>
    public static HubFile Parse(string reference) => Create(reference[Scheme.Length..], reference);

    /// <summary>The --hf-repo OWNER/REPO and --hf-file FILE.gguf pair.</summary>
    public static HubFile FromRepoAndFile(string repo, string file) => Create($"{repo.Trim('/')}/{file.TrimStart('/')}", $"--hf-repo {repo} --hf-file {file}");

    private static HubFile Create(string path, string given)
    {
        var parts = path.Split('/', 3);
        // The file becomes a path under the cache folder: no empty, "." or ".." segments may climb out of it.
        var valid = parts.Length == 3
            && path.Split('/').All(segment => segment.Length > 0 && segment is not "." and not "..")
            && parts[2].EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
        if (!valid)
            throw new ArgumentException($"'{given}' does not name a GGUF file on Hugging Face: use hf://OWNER/REPO/FILE.gguf, or --hf-repo OWNER/REPO --hf-file FILE.gguf.");
        return new HubFile(parts[0], parts[1], parts[2]);
    }

    public override string ToString() => $"{Scheme}{Repo}/{File}";
}
