namespace InferenceServer.SyntheticModels.Gguf;

/// <summary>Constants of the GGUF v3 container (ggml-org/ggml docs/gguf.md).</summary>
internal static class GgufFormat
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    public const uint Version = 3;

    /// <summary>Alignment of the data section and of every tensor's offset, unless general.alignment says otherwise.</summary>
    public const int DefaultAlignment = 32;

    public const string AlignmentKey = "general.alignment";

    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
