using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace InferenceServer.Api.Ollama;

/// <summary>
/// What Ollama's /api/tags and /api/show tell about a model, read from its GGUF header without loading it: the
/// scalar metadata (arrays such as the vocabulary are skipped), the parameter count (summed over the tensor
/// directory), the file's size and time, and a digest. The digest identifies the file as Ollama's identifies a
/// manifest: a SHA-256 of the header and the file size, not of the weights, so that listing a 40 GB model is quick.
/// Read once per file version. Thread-safe.
/// </summary>
internal sealed record ModelFacts(IReadOnlyDictionary<string, object> Metadata, long ParameterCount, string MainTensorType, long SizeBytes, DateTime ModifiedUtc, string Digest)
{
    private static readonly ConcurrentDictionary<(string, long, DateTime), ModelFacts> Cache = new();

    // ggml's tensor element types, by value (ggml_type).
    private static readonly string[] TensorTypes =
    [
        "F32", "F16", "Q4_0", "Q4_1", "", "", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS",
        "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "", "", "", "TQ1_0", "TQ2_0", "", "", "", "MXFP4",
    ];

    // llama.cpp's llama_ftype values (general.file_type): the quantisation most of the weights have.
    private static readonly string[] FileTypes =
    [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_1_F16", "", "", "Q8_0", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M",
        "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS", "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M",
        "IQ4_XS", "IQ1_M", "BF16", "", "", "", "TQ1_0", "TQ2_0", "MXFP4",
    ];

    public string Family => Metadata.GetValueOrDefault("general.architecture") as string ?? "unknown";

    /// <summary>Ollama's form: 8.0B, 494.03M, 656.38K.</summary>
    public string ParameterSize => ParameterCount switch
    {
        >= 1_000_000_000 => (ParameterCount / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (ParameterCount / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (ParameterCount / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "K",
        _ => ParameterCount.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>general.file_type's name; without one, the element type most of the weights have.</summary>
    public string QuantizationLevel => Metadata.GetValueOrDefault("general.file_type") is { } type && Convert.ToInt64(type, CultureInfo.InvariantCulture) is var t
        && t >= 0 && t < FileTypes.Length && FileTypes[t].Length > 0 ? FileTypes[t] : MainTensorType;

    public int? ContextLength => Metadata.GetValueOrDefault($"{Family}.context_length") is { } length ? Convert.ToInt32(length, CultureInfo.InvariantCulture) : null;

    public string? ChatTemplate => Metadata.GetValueOrDefault("tokenizer.chat_template") as string;

    /// <summary>The facts of the GGUF file at <paramref name="path"/>; null when it is missing (not downloaded yet) or unreadable.</summary>
    public static ModelFacts? Of(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists) return null;
        var key = (file.FullName, file.Length, file.LastWriteTimeUtc);
        if (Cache.TryGetValue(key, out var known)) return known;
        try
        {
            return Cache[key] = Read(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or EndOfStreamException)
        {
            return null;
        }
    }

    private static ModelFacts Read(FileInfo file)
    {
        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        if (reader.ReadUInt32() != 0x46554747 || reader.ReadUInt32() is < 2 or > 3) throw new InvalidDataException("Not a GGUF v2/v3 file.");
        var tensors = reader.ReadInt64();
        var entries = reader.ReadInt64();
        var metadata = new Dictionary<string, object>();
        for (long i = 0; i < entries; i++)
        {
            var name = ReadString(reader);
            if (ReadValue(reader, reader.ReadUInt32()) is { } value) metadata[name] = value;
        }
        var elementsByType = new Dictionary<uint, long>();
        for (long i = 0; i < tensors; i++)
        {
            ReadString(reader);
            var dimensions = reader.ReadUInt32();
            long elements = 1;
            for (var d = 0; d < dimensions; d++) elements *= reader.ReadInt64();
            var type = reader.ReadUInt32();
            elementsByType[type] = elementsByType.GetValueOrDefault(type) + elements;
            reader.ReadUInt64();
        }
        var main = elementsByType.Count == 0 ? uint.MaxValue : elementsByType.MaxBy(kv => kv.Value).Key;
        var header = new byte[stream.Position];
        stream.Position = 0;
        stream.ReadExactly(header);
        var digest = SHA256.HashData([.. header, .. BitConverter.GetBytes(file.Length)]);
        return new ModelFacts(metadata, elementsByType.Values.Sum(), main < TensorTypes.Length && TensorTypes[main].Length > 0 ? TensorTypes[main] : "unknown", file.Length, file.LastWriteTimeUtc, "sha256:" + Convert.ToHexStringLower(digest));
    }

    private static string ReadString(BinaryReader reader)
    {
        var length = reader.ReadInt64();
        if (length is < 0 or > 64 << 20) throw new InvalidDataException("A GGUF string is longer than 64 MB.");
        return Encoding.UTF8.GetString(reader.ReadBytes((int)length));
    }

    /// <summary>A scalar value; arrays are read past and give null.</summary>
    private static object? ReadValue(BinaryReader reader, uint type)
    {
        switch (type)
        {
            case 9:
                var elementType = reader.ReadUInt32();
                var count = reader.ReadInt64();
                for (long i = 0; i < count; i++) ReadValue(reader, elementType);
                return null;
            case 8:
                return ReadString(reader);
            default:
                return type switch
                {
                    0 => reader.ReadByte(), 1 => reader.ReadSByte(), 2 => reader.ReadUInt16(), 3 => reader.ReadInt16(), 4 => reader.ReadUInt32(),
                    5 => reader.ReadInt32(), 6 => reader.ReadSingle(), 7 => reader.ReadBoolean(), 10 => reader.ReadUInt64(), 11 => reader.ReadInt64(),
                    12 => reader.ReadDouble(),
                    _ => throw new InvalidDataException($"Unknown GGUF value type {type}."),
                };
        }
    }
}
