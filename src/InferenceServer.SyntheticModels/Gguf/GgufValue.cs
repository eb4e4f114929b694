namespace InferenceServer.SyntheticModels.Gguf;

/// <summary>
/// One GGUF metadata value. <see cref="Value"/> holds the CLR value of <see cref="Type"/>
/// (byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double);
/// for <see cref="GgufValueType.Array"/> it holds a typed CLR array of <see cref="ElementType"/>
/// (e.g. string[] for token texts). Nested arrays are not supported.
/// </summary>
internal sealed class GgufValue : IEquatable<GgufValue>
{
    private GgufValue(GgufValueType type, object value, GgufValueType elementType)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>The element type of an array; meaningless for scalars.</summary>
    public GgufValueType ElementType { get; }

    public object Value { get; }

    public static GgufValue String(string value) => new(GgufValueType.String, value, default);
    public static GgufValue UInt32(uint value) => new(GgufValueType.UInt32, value, default);
    public static GgufValue UInt64(ulong value) => new(GgufValueType.UInt64, value, default);
    public static GgufValue Int32(int value) => new(GgufValueType.Int32, value, default);
    public static GgufValue Float32(float value) => new(GgufValueType.Float32, value, default);
    public static GgufValue Bool(bool value) => new(GgufValueType.Bool, value, default);

    /// <summary>Wraps a scalar already typed by the reader; the CLR type must match <paramref name="type"/>.</summary>
    public static GgufValue Scalar(GgufValueType type, object value)
    {
        if (type == GgufValueType.Array || ClrTypeOf(type) != value.GetType())
        {
            throw new ArgumentException($"A {value.GetType().Name} is not a GGUF {type}.", nameof(value));
        }

        return new GgufValue(type, value, default);
    }

    public static GgufValue Array(GgufValueType elementType, System.Array values)
    {
        if (elementType == GgufValueType.Array || values.GetType().GetElementType() != ClrTypeOf(elementType))
        {
            throw new ArgumentException($"A {values.GetType().Name} is not a GGUF array of {elementType}.", nameof(values));
        }

        return new GgufValue(GgufValueType.Array, values, elementType);
    }

    public string AsString() => (string)Value;

    public System.Array AsArray() => (System.Array)Value;

    /// <summary>Any unsigned or signed integer scalar, widened.</summary>
    public long AsInt64() => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v => checked((long)v),
        long v => v,
        _ => throw new InvalidOperationException($"GGUF {Type} is not an integer."),
    };

    public static Type ClrTypeOf(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => typeof(byte),
        GgufValueType.Int8 => typeof(sbyte),
        GgufValueType.UInt16 => typeof(ushort),
        GgufValueType.Int16 => typeof(short),
        GgufValueType.UInt32 => typeof(uint),
        GgufValueType.Int32 => typeof(int),
        GgufValueType.Float32 => typeof(float),
        GgufValueType.Bool => typeof(bool),
        GgufValueType.String => typeof(string),
        GgufValueType.UInt64 => typeof(ulong),
        GgufValueType.Int64 => typeof(long),
        GgufValueType.Float64 => typeof(double),
        _ => throw new NotSupportedException($"GGUF value type {type} has no scalar CLR type."),
    };

    public bool Equals(GgufValue? other)
    {
        if (other is null || other.Type != Type || other.ElementType != ElementType)
        {
            return false;
        }

        if (Type != GgufValueType.Array)
        {
            return Value.Equals(other.Value);
        }

        var mine = AsArray();
        var theirs = other.AsArray();
        if (mine.Length != theirs.Length)
        {
            return false;
        }

        for (var i = 0; i < mine.Length; i++)
        {
            if (!Equals(mine.GetValue(i), theirs.GetValue(i)))
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as GgufValue);

    public override int GetHashCode() => HashCode.Combine(Type, ElementType, Type == GgufValueType.Array ? AsArray().Length : Value.GetHashCode());

    public override string ToString() => Type == GgufValueType.Array
        ? $"[{ElementType} x {AsArray().Length}]"
        : Value switch
        {
            string s => s.Length > 60 ? $"\"{s[..57].ReplaceLineEndings("\\n")}...\"" : $"\"{s.ReplaceLineEndings("\\n")}\"",
            float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        };
}
