using System.Text;

namespace InferenceServer.SyntheticModels.Gguf;

/// <summary>Reads the header, metadata and tensor directory of a GGUF v2/v3 file (little-endian only).</summary>
internal static class GgufReader
{
    // A corrupt length field must fail as a format error, not as an attempt to allocate gigabytes.
    private const long MaxStringBytes = 64L << 20;
    private const long MaxArrayLength = 1L << 28;
    private const int MaxDimensions = 4;

    public static GgufFile Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream);
    }

    public static GgufFile Read(Stream stream)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var magic = reader.ReadUInt32();
        if (magic != GgufFormat.Magic)
        {
            throw new InvalidDataException($"Not a GGUF file (magic 0x{magic:x8}).");
        }

        var version = reader.ReadUInt32();
        if (version is < 2 or > GgufFormat.Version)
        {
            throw new InvalidDataException($"Unsupported GGUF version {version}.");
        }

        var tensorCount = CheckedCount(reader.ReadUInt64(), "tensor count");
        var metadataCount = CheckedCount(reader.ReadUInt64(), "metadata count");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)metadataCount);
        for (long i = 0; i < metadataCount; i++)
        {
            var key = ReadString(reader);
            var type = (GgufValueType)reader.ReadUInt32();
            metadata.Add(new(key, ReadValue(reader, type)));
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        for (long i = 0; i < tensorCount; i++)
        {
            var name = ReadString(reader);
            var dimensionCount = reader.ReadUInt32();
            if (dimensionCount is 0 or > MaxDimensions)
            {
                throw new InvalidDataException($"Tensor '{name}' has {dimensionCount} dimensions.");
            }

            var dimensions = new long[dimensionCount];
            for (var d = 0; d < dimensionCount; d++)
            {
                dimensions[d] = CheckedCount(reader.ReadUInt64(), "dimension");
            }

            tensors.Add(new GgufTensorInfo(name, dimensions, (GgmlType)reader.ReadUInt32(), reader.ReadUInt64()));
        }

        var alignment = metadata.FirstOrDefault(kv => kv.Key == GgufFormat.AlignmentKey).Value?.AsInt64() ?? GgufFormat.DefaultAlignment;
        return new GgufFile(version, metadata, tensors, GgufFormat.AlignUp(stream.Position, alignment));
    }

    private static GgufValue ReadValue(BinaryReader reader, GgufValueType type)
    {
        if (type != GgufValueType.Array)
        {
            return GgufValue.Scalar(type, ReadScalar(reader, type));
        }

        var elementType = (GgufValueType)reader.ReadUInt32();
        if (elementType == GgufValueType.Array)
        {
            throw new NotSupportedException("Nested GGUF arrays are not supported.");
        }

        var length = reader.ReadUInt64();
        if (length > MaxArrayLength)
        {
            throw new InvalidDataException($"GGUF array of {length} elements.");
        }

        var values = System.Array.CreateInstance(GgufValue.ClrTypeOf(elementType), (int)length);
        for (var i = 0; i < (int)length; i++)
        {
            values.SetValue(ReadScalar(reader, elementType), i);
        }

        return GgufValue.Array(elementType, values);
    }

    private static object ReadScalar(BinaryReader reader, GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => reader.ReadByte(),
        GgufValueType.Int8 => reader.ReadSByte(),
        GgufValueType.UInt16 => reader.ReadUInt16(),
        GgufValueType.Int16 => reader.ReadInt16(),
        GgufValueType.UInt32 => reader.ReadUInt32(),
        GgufValueType.Int32 => reader.ReadInt32(),
        GgufValueType.Float32 => reader.ReadSingle(),
        GgufValueType.Bool => reader.ReadByte() switch
        {
            0 => false,
            1 => true,
            var b => throw new InvalidDataException($"GGUF bool with value {b}."),
        },
        GgufValueType.String => ReadString(reader),
        GgufValueType.UInt64 => reader.ReadUInt64(),
        GgufValueType.Int64 => reader.ReadInt64(),
        GgufValueType.Float64 => reader.ReadDouble(),
        _ => throw new InvalidDataException($"Unknown GGUF value type {(uint)type}."),
    };

    private static string ReadString(BinaryReader reader)
    {
        var length = reader.ReadUInt64();
        if (length > MaxStringBytes)
        {
            throw new InvalidDataException($"GGUF string of {length} bytes.");
        }

        var bytes = reader.ReadBytes((int)length);
        if (bytes.Length != (int)length)
        {
            throw new EndOfStreamException("GGUF string runs past the end of the file.");
        }

        return Encoding.UTF8.GetString(bytes);
    }

    private static long CheckedCount(ulong value, string what) =>
        value <= int.MaxValue ? (long)value : throw new InvalidDataException($"GGUF {what} {value} is out of range.");
}
