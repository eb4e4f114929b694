using System.Numerics.Tensors;
using InferenceServer.Engine;
using LLama;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Llama;

/// <summary>
/// A draft model (<see cref="IDraftModel"/>) on a llama.cpp context of its own, one KV sequence per engine slot, laid
/// out like the target's context. What each slot's KV holds is remembered as tokens, so a step feeds only what is
/// new: the accepted draft and the target's token after it; rejected draft cells go with
/// <c>MemorySequenceRemove</c> from the first position where the slot's tokens and the history differ.
/// Engine loop thread only.
/// </summary>
internal sealed class LlamaDraftModel : IDraftModel, IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();
    private readonly List<int>[] _held;
    private readonly float _minP;
    private readonly int _batchTokens;

    private LlamaDraftModel(LLamaWeights weights, LLamaContext context, int sequences, int batchTokens, float minP)
    {
        _weights = weights;
        _context = context;
        _held = Enumerable.Range(0, sequences).Select(_ => new List<int>()).ToArray();
        _batchTokens = batchTokens;
        _minP = minP;
    }

    /// <summary>
    /// Loads the draft model with the target's context layout (sequences, cells, batch) and checks that its vocabulary
    /// is the target's, token for token. Throws <see cref="ModelLoadException"/> naming the first difference.
    /// </summary>
    public static LlamaDraftModel Load(string path, LlamaModelSettings target, LLamaWeights targetWeights, int contextCells, float minP, ILogger logger)
    {
        LlamaModel.CheckGgufFile(path, "Draft model file");
        // The target's layout, one sequence id per slot, and f16 KV: a quantised cache needs head lengths this model may not have.
        var parameters = LlamaModel.ContextParameters(target, path, target.MaxSequences);
        parameters.ContextSize = (uint)contextCells;
        var weights = LlamaModel.LoadWeights(parameters, "draft model");
        try
        {
            if (VocabularyDifference(weights, targetWeights) is { } difference)
                throw new ModelLoadException($"--draft-model '{path}' cannot draft for '{target.ModelPath}': {difference}. A draft model needs the target's vocabulary.");
            var context = weights.CreateContext(parameters);
            logger.LogInformation("Draft model {Model}: {Parameters:N0} parameters, {Cells} KV cells, min-p {MinP}",
                Path.GetFileName(path), weights.ParameterCount, context.ContextSize, minP);
            return new LlamaDraftModel(weights, context, target.MaxSequences, target.BatchTokens, minP);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Null when both vocabularies have the same tokens with the same text, else the first difference.</summary>
    private static string? VocabularyDifference(LLamaWeights draft, LLamaWeights target)
    {
        var (a, b) = (draft.NativeHandle.Vocab, target.NativeHandle.Vocab);
        if (a.Count != b.Count) return $"its vocabulary has {a.Count} tokens, the target's {b.Count}";
        if (a.Type != b.Type) return $"its tokenizer is {a.Type}, the target's {b.Type}";
        for (var id = 0; id < a.Count; id++)
        {
            var token = (LLamaToken)id;
            var (mine, theirs) = (a.LLamaTokenToString(token, true), b.LLamaTokenToString(token, true));
            if (mine != theirs) return $"token {id} is '{mine}' in it and '{theirs}' in the target";
        }
        return null;
    }

    public void Draft(IReadOnlyList<DraftRequest> requests)
    {
        // CatchUp's last decode holds one token per request.
        requests = requests.Take(_batchTokens).ToList();
        var rows = CatchUp(requests);
        var drafts = requests.ToDictionary(r => r, _ => new List<int>());
        var drafting = requests.Where(r => r.MaxTokens > 0).ToList();
        while (drafting.Count > 0)
        {
            var next = new List<DraftRequest>();
            var fed = new Dictionary<DraftRequest, int>();
            _batch.Clear();
            foreach (var request in drafting)
            {
                var logits = _context.NativeHandle.GetLogitsIth(rows[request]);
                var token = TensorPrimitives.IndexOfMax(logits);
                if (Probability(logits, token) < _minP) continue;
                var draft = drafts[request];
                draft.Add(token);
                if (draft.Count >= request.MaxTokens) continue;
                var held = _held[request.Slot.Value];
                fed[request] = _batch.Add((LLamaToken)token, (LLamaPos)held.Count, (LLamaSeqId)request.Slot.Value, logits: true);
                held.Add(token);
                next.Add(request);
            }
            drafting = next;
            rows = fed;
            if (drafting.Count > 0) Decode();
        }
        foreach (var (request, draft) in drafts) request.Draft = [.. draft];
    }

    /// <summary>
    /// Makes each slot's KV hold its request's history: keeps the common prefix (less the last history token, whose
    /// logits are needed now), removes the rest, decodes what is missing but the last tokens in batches of at most
    /// the batch size, then every request's last token in one decode. Returns each request's logits row in it.
    /// </summary>
    private Dictionary<DraftRequest, int> CatchUp(IReadOnlyList<DraftRequest> requests)
    {
        _batch.Clear();
        foreach (var request in requests)
        {
            var held = _held[request.Slot.Value];
            var keep = Math.Min(CommonPrefix(held, request.History), request.History.Length - 1);
            if (keep < held.Count)
            {
                _context.NativeHandle.MemorySequenceRemove((LLamaSeqId)request.Slot.Value, keep, -1);
                held.RemoveRange(keep, held.Count - keep);
            }
            for (var i = keep; i < request.History.Length - 1; i++)
            {
                if (_batch.TokenCount == _batchTokens) Decode();
                _batch.Add((LLamaToken)request.History[i], (LLamaPos)i, (LLamaSeqId)request.Slot.Value, logits: false);
                held.Add(request.History[i]);
            }
        }
        if (_batch.TokenCount > 0) Decode();

        // At most one token per sequence: never more than the batch size, which is at least the number of sequences.
        var rows = new Dictionary<DraftRequest, int>();
        foreach (var request in requests)
        {
            var last = request.History.Length - 1;
            rows[request] = _batch.Add((LLamaToken)request.History[last], (LLamaPos)last, (LLamaSeqId)request.Slot.Value, logits: true);
            _held[request.Slot.Value].Add(request.History[last]);
        }
        Decode();
        return rows;
    }

    private void Decode()
    {
        var result = _context.NativeHandle.Decode(_batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"The draft model's llama_decode returned {result} for a batch of {_batch.TokenCount} tokens.");
        _batch.Clear();
    }

    /// <summary>The softmax probability of <paramref name="token"/> in a logits row.</summary>
    private static float Probability(ReadOnlySpan<float> logits, int token)
    {
        var max = logits[token];
        var sum = 0f;
        foreach (var logit in logits) sum += MathF.Exp(logit - max);
        return 1f / sum;
    }

    private static int CommonPrefix(List<int> held, int[] history)
    {
        var n = Math.Min(held.Count, history.Length);
        var i = 0;
        while (i < n && held[i] == history[i]) i++;
        return i;
    }

    public void Release(SequenceSlot slot)
    {
        _context.NativeHandle.MemorySequenceRemove((LLamaSeqId)slot.Value, 0, -1);
        _held[slot.Value].Clear();
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
