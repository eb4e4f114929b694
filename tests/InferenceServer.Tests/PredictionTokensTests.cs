using System.Text;
using InferenceServer.Api;
using InferenceServer.Llama;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Tests;

/// <summary>A prediction's tokens on a real SentencePiece vocabulary spell the prediction, without the space the tokenizer adds.</summary>
public sealed class PredictionTokensTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(
        new LlamaModelSettings(TestFixtures.Model("TinyStories-656K-Q8_0.gguf"), ContextCells: 256, MaxSequences: 1, BatchTokens: 64, MicroBatchTokens: 64, Threads: 1),
        NullLogger.Instance);

    private string Spelt(int[] tokens) => Encoding.UTF8.GetString(tokens.SelectMany(_model.Tokenizer.PieceBytes).ToArray());

    [Theory]
    [InlineData(" Lily went to the park.")]
    [InlineData("Lily went to the park.")]
    [InlineData(" ,")]
    public void A_prediction_spells_exactly_its_text(string text)
    {
        // The tokenizer alone puts a space token of its own first (this vocabulary does before any text), one the
        // model does not write where the text has none.
        Assert.Equal(" " + text, Spelt(_model.Tokenizer.Tokenize(text, addBos: false, parseSpecial: false)));
        Assert.Equal(text, Spelt(PredictedOutput.Tokens(_model.Tokenizer, text)));
    }

    public void Dispose() => _model.Dispose();
}
