namespace InferenceServer.SyntheticModels.Gguf;

/// <summary>
/// A tensor as GGUF describes it. <see cref="Dimensions"/> are in ggml order: ne[0] first, the
/// contiguous (row) dimension — a llama weight that maps n_in to n_out is [n_in, n_out].
/// <see cref="Offset"/> is relative to the start of the data section.
/// </summary>
internal sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Dimensions, GgmlType Type, ulong Offset)
{
    public long ElementCount => Dimensions.Aggregate(1L, (product, d) => product * d);
}

/// <summary>The header, metadata and tensor directory of a GGUF file (tensor data is not loaded).</summary>
internal sealed class GgufFile
{
    public GgufFile(uint version, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensorInfo> tensors, long dataOffset)
    {
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        DataOffset = dataOffset;
        MetadataByKey = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    public uint Version { get; }

    /// <summary>Metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }

    public IReadOnlyDictionary<string, GgufValue> MetadataByKey { get; }

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Absolute file offset of the (aligned) tensor data section.</summary>
    public long DataOffset { get; }
}
