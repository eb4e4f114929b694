using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>A tensor of a llama model and whether it is a norm (filled with ones, always F32).</summary>
internal sealed record LlamaTensor(GgufTensorPlan Plan, bool IsNorm);

/// <summary>
/// The tensors llama.cpp's llama architecture loads, with ggml shapes ([n_in, n_out] for a weight
/// that maps n_in features to n_out).
/// </summary>
internal static class LlamaTensorLayout
{
    /// <summary>The per-block matrices a LoRA adapter may target.</summary>
    public static IReadOnlyList<string> BlockMatrices { get; } =
        ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

    public static IReadOnlyList<LlamaTensor> For(ModelShape shape, int vocabularySize, GgmlType matrixType = GgmlType.F32)
    {
        long embd = shape.EmbeddingLength, kv = shape.KvEmbeddingLength, ffn = shape.FeedForwardLength;
        var tensors = new List<LlamaTensor>
        {
            Matrix("token_embd.weight", embd, vocabularySize),
            Norm("output_norm.weight", embd),
            Matrix("output.weight", embd, vocabularySize),
        };

        for (var block = 0; block < shape.BlockCount; block++)
        {
            var prefix = $"blk.{block}.";
            tensors.Add(Norm(prefix + "attn_norm.weight", embd));
            tensors.Add(Matrix(prefix + "attn_q.weight", embd, embd));
            tensors.Add(Matrix(prefix + "attn_k.weight", embd, kv));
            tensors.Add(Matrix(prefix + "attn_v.weight", embd, kv));
            tensors.Add(Matrix(prefix + "attn_output.weight", embd, embd));
            tensors.Add(Norm(prefix + "ffn_norm.weight", embd));
            tensors.Add(Matrix(prefix + "ffn_gate.weight", embd, ffn));
            tensors.Add(Matrix(prefix + "ffn_up.weight", embd, ffn));
            tensors.Add(Matrix(prefix + "ffn_down.weight", ffn, embd));
        }

        return tensors;

        LlamaTensor Matrix(string name, long inputs, long outputs) => new(new GgufTensorPlan(name, [inputs, outputs], matrixType), IsNorm: false);
        static LlamaTensor Norm(string name, long length) => new(new GgufTensorPlan(name, [length], GgmlType.F32), IsNorm: true);
    }
}
