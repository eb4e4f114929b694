using System.Text;

namespace InferenceServer.SyntheticModels.Gguf;

/// <summary>A tensor to be written: its name, ggml-order dimensions and element type (F32 or F16).</summary>
internal sealed record GgufTensorPlan(string Name, IReadOnlyList<long> Dimensions, GgmlType Type)
{
    public long ElementCount => Dimensions.Aggregate(1L, (product, d) => product * d);

    public long ByteCount => ElementCount * Type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 => 2,
        _ => throw new NotSupportedException($"Writing {Type} tensors directly is not supported; quantise with llama.cpp."),
    };
}

/// <summary>
/// Writes a GGUF v3 file in one forward pass: header, metadata, tensor directory, then each tensor's
/// data through a callback, every tensor starting on a <see cref="GgufFormat.DefaultAlignment"/>-byte boundary.
/// </summary>
internal static class GgufWriter
{
    /// <param name="writeTensor">Writes exactly <see cref="GgufTensorPlan.ByteCount"/> bytes of the given tensor; checked.</param>
    /// <param name="bytesWritten">Called after each tensor with the running total of tensor bytes written.</param>
    public static void Write(
        Stream output,
        IReadOnlyList<KeyValuePair<string, GgufValue>> metadata,
        IReadOnlyList<GgufTensorPlan> tensors,
        Action<GgufTensorPlan, Stream> writeTensor,
        Action<long>? bytesWritten = null)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("GGUF is written little-endian only.");
        }

        if (metadata.Any(kv => kv.Key == GgufFormat.AlignmentKey))
        {
            throw new ArgumentException($"{GgufFormat.AlignmentKey} is fixed at {GgufFormat.DefaultAlignment}.", nameof(metadata));
        }

        using var writer = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true);
        writer.Write(GgufFormat.Magic);
        writer.Write(GgufFormat.Version);
        writer.Write((ulong)tensors.Count);
        writer.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(writer, key);
            writer.Write((uint)value.Type);
            WriteValue(writer, value);
        }

        ulong offset = 0;
        foreach (var tensor in tensors)
        {
            WriteString(writer, tensor.Name);
            writer.Write((uint)tensor.Dimensions.Count);
            foreach (var dimension in tensor.Dimensions)
            {
                writer.Write((ulong)dimension);
            }

            writer.Write((uint)tensor.Type);
            writer.Write(offset);
            offset = (ulong)GgufFormat.AlignUp((long)offset + tensor.ByteCount, GgufFormat.DefaultAlignment);
        }

        writer.Flush();
        var dataStart = output.Position;
        WritePadding(output, GgufFormat.AlignUp(dataStart, GgufFormat.DefaultAlignment) - dataStart);
        dataStart = output.Position;

        long total = 0;
        foreach (var tensor in tensors)
        {
            var before = output.Position;
            writeTensor(tensor, output);
            var written = output.Position - before;
            if (written != tensor.ByteCount)
            {
                throw new InvalidOperationException($"Tensor '{tensor.Name}': wrote {written} bytes, expected {tensor.ByteCount}.");
            }

            WritePadding(output, GgufFormat.AlignUp(output.Position - dataStart, GgufFormat.DefaultAlignment) - (output.Position - dataStart));
            total += tensor.ByteCount;
            bytesWritten?.Invoke(total);
        }
    }

    /// <summary>Sum of tensor bytes, for progress displays.</summary>
    public static long TensorBytes(IEnumerable<GgufTensorPlan> tensors) => tensors.Sum(t => t.ByteCount);

    private static void WriteValue(BinaryWriter writer, GgufValue value)
    {
        if (value.Type != GgufValueType.Array)
        {
            WriteScalar(writer, value.Type, value.Value);
            return;
        }

        var values = value.AsArray();
        writer.Write((uint)value.ElementType);
        writer.Write((ulong)values.Length);
        foreach (var element in values)
        {
            WriteScalar(writer, value.ElementType, element!);
        }
    }

    private static void WriteScalar(BinaryWriter writer, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: writer.Write((byte)value); break;
            case GgufValueType.Int8: writer.Write((sbyte)value); break;
            case GgufValueType.UInt16: writer.Write((ushort)value); break;
            case GgufValueType.Int16: writer.Write((short)value); break;
            case GgufValueType.UInt32: writer.Write((uint)value); break;
            case GgufValueType.Int32: writer.Write((int)value); break;
            case GgufValueType.Float32: writer.Write((float)value); break;
            case GgufValueType.Bool: writer.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(writer, (string)value); break;
            case GgufValueType.UInt64: writer.Write((ulong)value); break;
            case GgufValueType.Int64: writer.Write((long)value); break;
            case GgufValueType.Float64: writer.Write((double)value); break;
            default: throw new NotSupportedException($"Cannot write GGUF value type {type}.");
        }
    }

    private static void WriteString(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    private static void WritePadding(Stream output, long count)
    {
        Span<byte> zeros = stackalloc byte[GgufFormat.DefaultAlignment];
        zeros.Clear();
        output.Write(zeros[..(int)count]);
    }
}
