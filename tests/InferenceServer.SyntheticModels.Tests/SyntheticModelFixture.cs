using InferenceServer.SyntheticModels.Llama;

namespace InferenceServer.SyntheticModels.Tests;

/// <summary>
/// Writes the tiny synthetic model once per test run (F32, Q8_0 and Q4_0, seed 1) into a temporary
/// directory, deleted afterwards. The vocabulary is synthmodel's default
/// (tests/fixtures/vocab, or SYNTHMODEL_VOCAB).
/// </summary>
public sealed class SyntheticModelFixture : IDisposable
{
    public const ulong Seed = 1;

    public SyntheticModelFixture()
    {
        VocabularyPath = Vocabulary.FindDefault()
            ?? throw new InvalidOperationException(
                $"No tests/fixtures/vocab/{Vocabulary.DefaultFileName} above {AppContext.BaseDirectory}; set {Vocabulary.PathVariable}.");
        Directory = System.IO.Directory.CreateTempSubdirectory("synthmodel-tests-").FullName;
        var vocabulary = Vocabulary.Load(VocabularyPath);
        foreach (var format in new[] { WeightFormat.F32, WeightFormat.Q8_0, WeightFormat.Q4_0 })
        {
            SyntheticModelBuilder.Build(PathOf(format), Tiny, Seed, format, vocabulary, threads: 2);
        }
    }

    internal static ModelShape Tiny => ModelShape.Find("tiny")!;

    public string VocabularyPath { get; }

    public string Directory { get; }

    internal string PathOf(WeightFormat format) => Path.Combine(Directory, $"tiny-{format}.gguf");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class SyntheticModelCollection : ICollectionFixture<SyntheticModelFixture>
{
    public const string Name = "synthetic tiny model";
}
