using System.Runtime.InteropServices;
using System.Text;
using LLama;
using LLama.Native;

namespace InferenceServer.StructuredOutput.Tests;

internal enum FinishReason { Stop, Length }

internal sealed record Generation(string Text, FinishReason Finish, int Tokens);

/// <summary>
/// Drives llama.cpp's grammar sampler directly. Every step applies the chain, checks that the
/// selected candidate survived the grammar (logit not -inf) and only then accepts it: accepting a
/// token the grammar rejected throws inside llama.cpp and aborts the process.
/// </summary>
internal static class GrammarRunner
{
    /// <summary>Whether the grammar accepts exactly <paramref name="text"/>, fed byte by byte through
    /// stories260K's byte tokens (id = byte + 3), ending with end-of-sequence.</summary>
    public static bool Accepts(LLamaWeights model, string gbnf, string text, string root = "root")
    {
        var check = InferenceServer.Llama.GrammarGuard.Check(model.NativeHandle, gbnf, root);
        if (!check.IsUsable)
            throw new InvalidOperationException($"grammar not usable: {check.Error}\n{gbnf}");
        using var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        chain.AddGrammar(model.NativeHandle.Vocab, gbnf, root);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var token = (LLamaToken)(b + 3);
            if (!Allowed(chain, token))
                return false;
            chain.Accept(token);
        }
        return Allowed(chain, model.NativeHandle.Vocab.EOS!.Value);
    }

    private static bool Allowed(SafeLLamaSamplerChainHandle chain, LLamaToken token)
    {
        var data = new[] { new LLamaTokenData(token, 0f, 0f) };
        var array = new LLamaTokenDataArray(data, false);
        using (LLamaTokenDataArrayNative.Create(array, out var native))
            chain.Apply(ref native);
        return !float.IsNegativeInfinity(data[0].Logit);
    }

    /// <summary>Generates after a story prompt under the grammar; greedy when seed is null.</summary>
    public static Generation Generate(LLamaWeights model, LLama.Abstractions.IContextParams contextParams, string gbnf,
        int maxTokens, uint? seed, float temperature = 1.0f, IReadOnlyDictionary<LLamaToken, float>? logitBias = null, string root = "root")
    {
        var check = InferenceServer.Llama.GrammarGuard.Check(model.NativeHandle, gbnf, root);
        if (!check.IsUsable)
            throw new InvalidOperationException($"grammar not usable: {check.Error}\n{gbnf}");
        using var context = model.CreateContext(contextParams);
        using var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        chain.AddGrammar(model.NativeHandle.Vocab, gbnf, root);
        if (seed is { } s)
        {
            chain.AddTemperature(temperature);
            chain.AddDistributionSampler(s);
        }
        else
        {
            chain.AddGreedySampler();
        }

        var prompt = context.Tokenize("Once upon a time", addBos: true);
        var batch = new LLamaBatch();
        batch.AddRange(prompt, 0, LLamaSeqId.Zero, logitsLast: true);
        if (context.NativeHandle.Decode(batch) != DecodeResult.Ok)
            throw new InvalidOperationException("prefill failed");
        int position = prompt.Length;
        var decoder = new StreamingTokenDecoder(context);
        var eos = model.NativeHandle.Vocab.EOS!.Value;
        int vocabCount = model.NativeHandle.Vocab.Count;
        var candidates = new LLamaTokenData[vocabCount];
        for (int step = 0; step < maxTokens; step++)
        {
            var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
            for (int i = 0; i < vocabCount; i++)
                candidates[i] = new LLamaTokenData((LLamaToken)i, logits[i] + (logitBias?.GetValueOrDefault((LLamaToken)i) ?? 0f), 0f);
            var array = new LLamaTokenDataArray(candidates, false);
            LLamaToken token;
            using (LLamaTokenDataArrayNative.Create(array, out var native))
            {
                chain.Apply(ref native);
                var selected = native.Data[(int)native.Selected];
                if (float.IsNegativeInfinity(selected.Logit))
                    throw new InvalidOperationException("grammar dead end: no token of the vocabulary continues the grammar");
                token = selected.ID;
            }
            chain.Accept(token);
            if (token == eos)
                return new Generation(decoder.Read(), FinishReason.Stop, step);
            decoder.Add(token);
            batch.Clear();
            batch.Add(token, position++, LLamaSeqId.Zero, logits: true);
            if (context.NativeHandle.Decode(batch) != DecodeResult.Ok)
                throw new InvalidOperationException("decode failed");
        }
        return new Generation(decoder.Read(), FinishReason.Length, maxTokens);
    }
}
