using InferenceServer.SyntheticModels.Gguf;
using LLama;
using LLama.Native;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>The weight formats the tool writes: F32/F16 directly, the rest through llama.cpp's quantiser.</summary>
internal enum WeightFormat
{
    F32,
    F16,
    Q8_0,
    Q4_0,
    /// <summary>llama.cpp's Q4_K_M mix (Q4_K with some Q6_K); rows not a multiple of 256 fall back to other types.</summary>
    Q4_K,
}

internal static class ModelQuantizer
{
    public static bool NeedsQuantiser(WeightFormat format) => format is not (WeightFormat.F32 or WeightFormat.F16);

    public static LLamaFtype FileType(WeightFormat format) => format switch
    {
        WeightFormat.F32 => LLamaFtype.ALL_F32,
        WeightFormat.F16 => LLamaFtype.MOSTLY_F16,
        WeightFormat.Q8_0 => LLamaFtype.MOSTLY_Q8_0,
        WeightFormat.Q4_0 => LLamaFtype.MOSTLY_Q4_0,
        WeightFormat.Q4_K => LLamaFtype.MOSTLY_Q4_K_M,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>Quantises <paramref name="source"/> (F32 or F16) into <paramref name="destination"/>, output matrix included.</summary>
    public static void Quantize(string source, string destination, WeightFormat format, int threads)
    {
        if (!NeedsQuantiser(format))
        {
            throw new ArgumentException($"{format} is written directly, not quantised.", nameof(format));
        }

        // LLamaQuantizer P/Invokes before anything has run NativeApi's static constructor, which is what
        // selects and loads libllama; without this call the quantiser throws DllNotFoundException.
        NativeApi.llama_empty_call();
        if (!LLamaQuantizer.Quantize(source, destination, FileType(format), threads, allowRequantize: false, quantizeOutputTensor: true))
        {
            throw new InvalidOperationException($"llama.cpp failed to quantise {source} to {format}.");
        }
    }

    /// <summary>How many tensors of each ggml type a GGUF holds, e.g. to see Q4_K's fallbacks.</summary>
    public static IReadOnlyDictionary<GgmlType, int> TensorTypeCounts(string path) =>
        GgufReader.Read(path).Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
}
