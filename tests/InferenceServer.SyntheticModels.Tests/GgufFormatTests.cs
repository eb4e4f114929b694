using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Tests;

public sealed class GgufFormatTests
{
    [Fact]
    public void Writer_and_reader_round_trip_every_value_type_and_the_tensor_directory()
    {
        List<KeyValuePair<string, GgufValue>> metadata =
        [
            new("u8", GgufValue.Scalar(GgufValueType.UInt8, (byte)200)),
            new("i8", GgufValue.Scalar(GgufValueType.Int8, (sbyte)-5)),
            new("u16", GgufValue.Scalar(GgufValueType.UInt16, (ushort)60000)),
            new("i16", GgufValue.Scalar(GgufValueType.Int16, (short)-30000)),
            new("u32", GgufValue.UInt32(4_000_000_000)),
            new("i32", GgufValue.Int32(-7)),
            new("f32", GgufValue.Float32(1e-5f)),
            new("bool", GgufValue.Bool(true)),
            new("string", GgufValue.String("héllo\nwörld")),
            new("u64", GgufValue.UInt64(ulong.MaxValue)),
            new("i64", GgufValue.Scalar(GgufValueType.Int64, long.MinValue)),
            new("f64", GgufValue.Scalar(GgufValueType.Float64, Math.PI)),
            new("strings", GgufValue.Array(GgufValueType.String, new[] { "a", "", "▁the" })),
            new("floats", GgufValue.Array(GgufValueType.Float32, new[] { -1.5f, 0f, 3.25f })),
            new("ints", GgufValue.Array(GgufValueType.Int32, new[] { 1, 2, 3 })),
            new("empty", GgufValue.Array(GgufValueType.UInt8, Array.Empty<byte>())),
        ];
        GgufTensorPlan[] tensors =
        [
            new("odd", [3], GgmlType.F32),        // 12 bytes: the next tensor must be padded to 32
            new("matrix", [5, 7], GgmlType.F16),  // 70 bytes
            new("last", [2, 2], GgmlType.F32),
        ];

        using var stream = new MemoryStream();
        GgufWriter.Write(stream, metadata, tensors, (plan, output) =>
            output.Write(Enumerable.Repeat((byte)(plan.Name.Length), (int)plan.ByteCount).ToArray()));

        stream.Position = 0;
        var file = GgufReader.Read(stream);

        Assert.Equal(3u, file.Version);
        Assert.Equal(metadata.Select(kv => kv.Key), file.Metadata.Select(kv => kv.Key));
        Assert.Equal(metadata.Select(kv => kv.Value), file.Metadata.Select(kv => kv.Value));
        Assert.Equal(new ulong[] { 0, 32, 128 }, file.Tensors.Select(t => t.Offset));
        Assert.Equal(["odd", "matrix", "last"], file.Tensors.Select(t => t.Name));
        Assert.Equal([5L, 7L], file.Tensors[1].Dimensions);
        Assert.Equal(GgmlType.F16, file.Tensors[1].Type);
        Assert.Equal(0, file.DataOffset % 32);
        Assert.Equal(file.DataOffset + 160, stream.Length); // the last tensor is padded too

        var bytes = stream.ToArray();
        Assert.Equal((byte)"matrix".Length, bytes[file.DataOffset + 32]);
        Assert.Equal(0, bytes[file.DataOffset + 12]); // padding after "odd"
    }

    [Fact]
    public void Writer_rejects_a_callback_that_writes_the_wrong_number_of_bytes()
    {
        using var stream = new MemoryStream();
        var error = Assert.Throws<InvalidOperationException>(() =>
            GgufWriter.Write(stream, [], [new GgufTensorPlan("t", [4], GgmlType.F32)], (_, output) => output.Write(new byte[15])));
        Assert.Contains("15", error.Message);
    }

    [Fact]
    public void Reader_rejects_a_file_that_is_not_gguf()
    {
        using var stream = new MemoryStream("GGML and then some bytes"u8.ToArray());
        Assert.Throws<InvalidDataException>(() => GgufReader.Read(stream));
    }

    [Fact]
    public void Scalars_are_refused_under_the_wrong_gguf_type()
    {
        Assert.Throws<ArgumentException>(() => GgufValue.Scalar(GgufValueType.UInt32, 5));
        Assert.Throws<ArgumentException>(() => GgufValue.Array(GgufValueType.Float32, new[] { 1.0 }));
    }
}
