using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace InferenceServer.Engine;

/// <summary>
/// Picks a token from a logits row in managed code, with llama.cpp's sampler semantics in the same order: top-k,
/// top-p, min-p (each on the temperature-1 distribution), then temperature and a seeded draw; temperature 0 is
/// the first largest logit. For requests without grammar, logit bias or penalties, which keep llama.cpp's chain.
/// Why not that chain: it copies the whole vocabulary into a candidate array and takes scalar exponentials on
/// every token (about 0.3 ms for 32k tokens at temperature 1, and a full sort for top-p), where this takes
/// vectorised passes and sorts only the candidates top-p can keep.
/// One per request; not thread-safe. Its vocabulary-sized scratch arrays are rented, and returned by
/// <see cref="Dispose"/>: fresh ones per request would land on the large-object heap and bring on full collections.
/// </summary>
public sealed class LogitsSampler : IDisposable
{
    // Blocks of the dense weights summed at once when walking to the drawn token.
    private const int ScanBlock = 1024;

    private readonly SamplingParameters _parameters;
    private readonly Random _random;
    private float[] _weights = [];
    private int[] _ids = [];

    public LogitsSampler(SamplingParameters parameters)
    {
        if (!Serves(parameters)) throw new ArgumentException("Grammar, logit bias and penalties need llama.cpp's sampler chain.", nameof(parameters));
        _parameters = parameters;
        _random = new Random(unchecked((int)parameters.Seed));
    }

    /// <summary>Whether this sampler implements every setting of <paramref name="parameters"/>.</summary>
    public static bool Serves(SamplingParameters parameters) =>
        parameters.Grammar is null && parameters.LogitBias is not { Count: > 0 } && !parameters.HasPenalties;

    // Straight to optimised code: at tier 0 the vectorised passes run many times slower for the first requests.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (_parameters.IsGreedy) return TensorPrimitives.IndexOfMax(logits);
        var truncated = _parameters.TopK > 0 && _parameters.TopK < logits.Length || _parameters.TopP < 1f || _parameters.MinP > 0f;
        return truncated ? SampleTruncated(logits) : SampleDense(logits);
    }

    /// <summary>Every token is a candidate: weights exp((l − max) / T), drawn from without sorting.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int SampleDense(ReadOnlySpan<float> logits)
    {
        var weights = Scratch(ref _weights, logits.Length);
        TensorPrimitives.Subtract(logits, TensorPrimitives.Max(logits), weights);
        TensorPrimitives.Multiply(weights, 1f / _parameters.Temperature, weights);
        TensorPrimitives.Exp(weights, weights);
        var target = _random.NextDouble() * TensorPrimitives.Sum<float>(weights);
        var start = 0;
        for (; start + ScanBlock < weights.Length; start += ScanBlock)
        {
            var block = TensorPrimitives.Sum<float>(weights.Slice(start, ScanBlock));
            if (target < block) break;
            target -= block;
        }
        var last = start;
        for (var i = start; i < weights.Length; i++)
        {
            if (weights[i] <= 0f) continue;
            last = i;
            target -= weights[i];
            if (target < 0) return i;
        }
        return last; // rounding left a sliver past the end: the last token with weight
    }

    /// <summary>
    /// Top-k, top-p and min-p narrow the candidates, then temperature and the draw. Candidates carry
    /// w = exp(l − max), the temperature-1 probability relative to the most likely token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int SampleTruncated(ReadOnlySpan<float> logits)
    {
        var count = _parameters.TopK > 0 && _parameters.TopK < logits.Length ? TopK(logits, _parameters.TopK) : All(logits.Length);
        var ids = _ids.AsSpan(0, count);
        var weights = _weights.AsSpan(0, count);
        var max = float.NegativeInfinity;
        foreach (var id in ids) max = Math.Max(max, logits[id]);
        for (var i = 0; i < count; i++) weights[i] = MathF.Exp(logits[ids[i]] - max);

        // min-p keeps w ≥ min_p; top-p keeps the most likely tokens up to the first whose cumulative share of the
        // top-k candidates reaches top_p. Both keep a most-likely-first prefix, so in either order they keep the shorter.
        var mass = TensorPrimitives.Sum<float>(weights) * _parameters.TopP;
        if (_parameters.MinP > 0f) count = Keep(ids, weights, _parameters.MinP);
        if (_parameters.TopP < 1f) count = TopPrefix(ids, weights, count, mass);
        ids = ids[..count];
        weights = weights[..count];

        // Temperature: exp((l − max) / T) = w^(1/T).
        var inverse = 1f / _parameters.Temperature;
        if (inverse != 1f)
            for (var i = 0; i < count; i++) weights[i] = MathF.Pow(weights[i], inverse);
        var target = _random.NextDouble() * TensorPrimitives.Sum<float>(weights);
        for (var i = 0; i < count; i++)
        {
            target -= weights[i];
            if (target < 0) return ids[i];
        }
        return ids[count - 1];
    }

    /// <summary>The k largest logits' ids into <see cref="_ids"/> (a min-heap of the best k seen), unordered.</summary>
    private int TopK(ReadOnlySpan<float> logits, int k)
    {
        var heap = Scratch(ref _ids, k);
        Scratch(ref _weights, k);
        for (var i = 0; i < k; i++)
        {
            heap[i] = i;
            SiftUp(heap, logits, i);
        }
        for (var i = k; i < logits.Length; i++)
        {
            if (logits[i] <= logits[heap[0]]) continue;
            heap[0] = i;
            SiftDown(heap, logits, 0, k);
        }
        return k;
    }

    private static void SiftUp(Span<int> heap, ReadOnlySpan<float> logits, int at)
    {
        while (at > 0 && logits[heap[(at - 1) / 2]] > logits[heap[at]])
        {
            (heap[at], heap[(at - 1) / 2]) = (heap[(at - 1) / 2], heap[at]);
            at = (at - 1) / 2;
        }
    }

    private static void SiftDown(Span<int> heap, ReadOnlySpan<float> logits, int at, int size)
    {
        while (true)
        {
            var smallest = at;
            var left = 2 * at + 1;
            if (left < size && logits[heap[left]] < logits[heap[smallest]]) smallest = left;
            if (left + 1 < size && logits[heap[left + 1]] < logits[heap[smallest]]) smallest = left + 1;
            if (smallest == at) return;
            (heap[at], heap[smallest]) = (heap[smallest], heap[at]);
            at = smallest;
        }
    }

    private int All(int vocabulary)
    {
        var ids = Scratch(ref _ids, vocabulary);
        Scratch(ref _weights, vocabulary);
        for (var i = 0; i < vocabulary; i++) ids[i] = i;
        return vocabulary;
    }

    /// <summary>Moves the candidates with weight ≥ <paramref name="floor"/> to the front, in order; returns how many.</summary>
    private static int Keep(Span<int> ids, Span<float> weights, float floor)
    {
        var kept = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            if (weights[i] < floor) continue;
            ids[kept] = ids[i];
            weights[kept++] = weights[i];
        }
        return kept;
    }

    /// <summary>
    /// Sorts the most likely candidates first and returns how many reach <paramref name="mass"/> (the first whose
    /// running sum does, included). Only candidates above a falling weight floor are sorted: with a peaked
    /// distribution a few dozen hold the mass, and the rest of the vocabulary is never ordered.
    /// </summary>
    private static int TopPrefix(Span<int> ids, Span<float> weights, int count, float mass)
    {
        ids = ids[..count];
        weights = weights[..count];
        for (var floor = 1f / 64; ; floor /= 64)
        {
            var above = floor < 1e-30f ? count : Partition(ids, weights, floor);
            var head = weights[..above];
            if (above < count && TensorPrimitives.Sum<float>(head) < mass) continue;
            head.Sort(ids[..above], (a, b) => b.CompareTo(a));
            var running = 0f;
            for (var i = 0; i < above; i++)
            {
                running += weights[i];
                if (running >= mass) return i + 1;
            }
            return above;
        }
    }

    /// <summary>Moves candidates with weight ≥ <paramref name="floor"/> to the front (order not kept); returns how many.</summary>
    private static int Partition(Span<int> ids, Span<float> weights, float floor)
    {
        var front = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            if (weights[i] < floor) continue;
            (ids[front], ids[i]) = (ids[i], ids[front]);
            (weights[front], weights[i]) = (weights[i], weights[front]);
            front++;
        }
        return front;
    }

    private static Span<T> Scratch<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            if (buffer.Length > 0) ArrayPool<T>.Shared.Return(buffer);
            buffer = ArrayPool<T>.Shared.Rent(length);
        }
        return buffer.AsSpan(0, length);
    }

    public void Dispose()
    {
        if (_weights.Length > 0) ArrayPool<float>.Shared.Return(_weights);
        if (_ids.Length > 0) ArrayPool<int>.Shared.Return(_ids);
        _weights = [];
        _ids = [];
    }
}
