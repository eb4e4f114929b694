namespace InferenceServer.StructuredOutput;

/// <summary>
/// The schema uses something the converter cannot turn into a grammar that guarantees valid output.
/// The server answers 400 with <see cref="Path"/> as the offending parameter.
/// </summary>
public sealed class UnsupportedSchemaException : Exception
{
    public UnsupportedSchemaException(string path, string keyword, string detail)
        : base($"Unsupported JSON Schema: '{keyword}' at '{(path.Length == 0 ? "/" : path)}': {detail}")
    {
        Path = path;
        Keyword = keyword;
    }

    /// <summary>JSON Pointer (RFC 6901) of the schema node that holds <see cref="Keyword"/>; "" is the root.</summary>
    public string Path { get; }

    /// <summary>The keyword that could not be converted, e.g. "uniqueItems", or "pattern".</summary>
    public string Keyword { get; }
}
