using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>The <c>tokenizer.*</c> metadata of a GGUF file, to be copied into a synthetic model.</summary>
internal sealed class Vocabulary
{
    public const string DefaultFileName = "ggml-vocab-llama-spm.gguf";

    private Vocabulary(string path, IReadOnlyList<KeyValuePair<string, GgufValue>> tokenizerMetadata, int size)
    {
        Path = path;
        TokenizerMetadata = tokenizerMetadata;
        Size = size;
    }

    public string Path { get; }

    /// <summary>Every <c>tokenizer.*</c> key of the source file, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> TokenizerMetadata { get; }

    /// <summary>Number of tokens (length of tokenizer.ggml.tokens).</summary>
    public int Size { get; }

    public static Vocabulary Load(string path)
    {
        var file = GgufReader.Read(path);
        var tokenizer = file.Metadata.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList();
        if (!file.MetadataByKey.TryGetValue("tokenizer.ggml.tokens", out var tokens) || tokens.Type != GgufValueType.Array)
        {
            throw new InvalidDataException($"{path} has no tokenizer.ggml.tokens array.");
        }

        return new Vocabulary(path, tokenizer, tokens.AsArray().Length);
    }

    /// <summary>
    /// Finds <c>tests/fixtures/vocab/ggml-vocab-llama-spm.gguf</c> in the nearest ancestor of <paramref name="startDirectory"/>
    /// (the repository root), or null.
    /// </summary>
    public static string? FindDefault(string startDirectory)
    {
        for (var directory = new DirectoryInfo(startDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "tests", "fixtures", "vocab", DefaultFileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Environment variable naming the vocabulary file, for a vocabulary outside the repository.</summary>
    public const string PathVariable = "SYNTHMODEL_VOCAB";

    /// <summary>The file named by <see cref="PathVariable"/>, else a search upwards from the program's directory, then from the working directory.</summary>
    public static string? FindDefault() =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured
            ? configured
            : FindDefault(AppContext.BaseDirectory) ?? FindDefault(Directory.GetCurrentDirectory());
}
