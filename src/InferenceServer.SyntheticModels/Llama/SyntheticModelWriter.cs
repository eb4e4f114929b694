using System.Runtime.InteropServices;
using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>What to write: a shape, a seed, the element type of the matrices and the spread of the random values.</summary>
internal sealed record SyntheticModelOptions(ModelShape Shape, ulong Seed, GgmlType MatrixType = GgmlType.F32, float Std = 0.02f)
{
    public float RmsNormEpsilon { get; init; } = 1e-5f;
    public float RopeFreqBase { get; init; } = 10000f;
}

/// <summary>
/// Writes a llama-architecture GGUF with random weights (vLLM's "dummy weights"): every matrix
/// normal(0, std), every norm 1, the tokenizer copied from a vocabulary GGUF plus a ChatML template.
/// The bytes depend only on the options and the vocabulary: each 256K-element chunk of each tensor draws
/// from its own random stream keyed by (seed, tensor index, chunk index), so chunks fill in parallel.
/// </summary>
internal static class SyntheticModelWriter
{
    /// <summary>ChatML, as Qwen and others ship it; the markers are plain text in the LLaMA SentencePiece vocabulary.</summary>
    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private const int ChunkElements = 1 << 18;

    public static IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata(SyntheticModelOptions options, Vocabulary vocabulary)
    {
        var shape = options.Shape;
        var fileType = options.MatrixType switch
        {
            GgmlType.F32 => 0u, // LLAMA_FTYPE_ALL_F32
            GgmlType.F16 => 1u, // LLAMA_FTYPE_MOSTLY_F16
            _ => throw new NotSupportedException($"Matrices are written as F32 or F16, not {options.MatrixType}."),
        };

        var metadata = new List<KeyValuePair<string, GgufValue>>
        {
            new("general.architecture", GgufValue.String("llama")),
            new("general.type", GgufValue.String("model")),
            new("general.name", GgufValue.String($"synthetic-llama-{shape.Name}")),
            new("general.description", GgufValue.String(
                $"Random weights for benchmarks (normal(0, {options.Std}), norms 1, seed {options.Seed}); not a trained model.")),
            new("general.file_type", GgufValue.UInt32(fileType)),
            new("llama.vocab_size", GgufValue.UInt32((uint)vocabulary.Size)),
            new("llama.context_length", GgufValue.UInt32((uint)shape.ContextLength)),
            new("llama.embedding_length", GgufValue.UInt32((uint)shape.EmbeddingLength)),
            new("llama.block_count", GgufValue.UInt32((uint)shape.BlockCount)),
            new("llama.feed_forward_length", GgufValue.UInt32((uint)shape.FeedForwardLength)),
            new("llama.attention.head_count", GgufValue.UInt32((uint)shape.HeadCount)),
            new("llama.attention.head_count_kv", GgufValue.UInt32((uint)shape.KvHeadCount)),
            new("llama.rope.dimension_count", GgufValue.UInt32((uint)shape.HeadDimension)),
            new("llama.attention.layer_norm_rms_epsilon", GgufValue.Float32(options.RmsNormEpsilon)),
            new("llama.rope.freq_base", GgufValue.Float32(options.RopeFreqBase)),
        };

        metadata.AddRange(vocabulary.TokenizerMetadata.Where(kv => kv.Key != "tokenizer.chat_template"));
        metadata.Add(new("tokenizer.chat_template", GgufValue.String(ChatMlTemplate)));
        return metadata;
    }

    /// <param name="bytesWritten">Running total of tensor bytes, out of the returned total; called from the writing thread.</param>
    /// <returns>Total tensor bytes written.</returns>
    public static long Write(string path, SyntheticModelOptions options, Vocabulary vocabulary, Action<long, long>? bytesWritten = null)
    {
        options.Shape.Validate();
        var tensors = LlamaTensorLayout.For(options.Shape, vocabulary.Size, options.MatrixType);
        var plans = tensors.Select(t => t.Plan).ToList();
        var isNorm = tensors.ToDictionary(t => t.Plan.Name, t => t.IsNorm);
        var indexOf = plans.Select((p, i) => (p.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var total = GgufWriter.TensorBytes(plans);

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        GgufWriter.Write(
            stream,
            Metadata(options, vocabulary),
            plans,
            (plan, output) =>
            {
                if (isNorm[plan.Name])
                {
                    WriteOnes(plan, output);
                }
                else
                {
                    WriteRandom(plan, output, [options.Seed, (ulong)indexOf[plan.Name]], options.Std);
                }
            },
            written => bytesWritten?.Invoke(written, total));
        return total;
    }

    /// <summary>Writes normal(0, std) values for the tensor; stream keys plus the chunk index name each chunk's random stream.</summary>
    internal static void WriteRandom(GgufTensorPlan plan, Stream output, ulong[] streamKeys, float std)
    {
        var elementCount = plan.ElementCount;
        var chunkCount = (int)((elementCount + ChunkElements - 1) / ChunkElements);
        var parallelism = Math.Max(1, Environment.ProcessorCount);
        var elementBytes = (int)(plan.ByteCount / elementCount);
        var encoded = new byte[parallelism][];
        for (var i = 0; i < parallelism; i++)
        {
            encoded[i] = new byte[ChunkElements * elementBytes];
        }

        for (var first = 0; first < chunkCount; first += parallelism)
        {
            var batch = Math.Min(parallelism, chunkCount - first);
            Parallel.For(0, batch, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, slot =>
            {
                var chunk = first + slot;
                var length = (int)Math.Min(ChunkElements, elementCount - (long)chunk * ChunkElements);
                var keys = new ulong[streamKeys.Length + 1];
                streamKeys.CopyTo(keys, 0);
                keys[^1] = (ulong)chunk;
                var values = new float[length];
                new GaussianSource(keys).Fill(values, std);
                Encode(values, plan.Type, encoded[slot]);
            });

            for (var slot = 0; slot < batch; slot++)
            {
                var length = (int)Math.Min(ChunkElements, elementCount - (long)(first + slot) * ChunkElements);
                output.Write(encoded[slot], 0, length * elementBytes);
            }
        }
    }

    private static void WriteOnes(GgufTensorPlan plan, Stream output)
    {
        var ones = new float[plan.ElementCount];
        Array.Fill(ones, 1f);
        var buffer = new byte[plan.ByteCount];
        Encode(ones, plan.Type, buffer);
        output.Write(buffer);
    }

    private static void Encode(ReadOnlySpan<float> values, GgmlType type, Span<byte> destination)
    {
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                break;
            case GgmlType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(destination);
                for (var i = 0; i < values.Length; i++)
                {
                    halves[i] = (Half)values[i];
                }

                break;
            default:
                throw new NotSupportedException($"Cannot encode {type}.");
        }
    }
}
