using System.Diagnostics;
using InferenceServer.SyntheticModels.Gguf;

namespace InferenceServer.SyntheticModels.Llama;

/// <summary>What building a model did and took.</summary>
internal sealed record BuildReport(
    long ParameterCount,
    long FileBytes,
    TimeSpan WriteTime,
    TimeSpan QuantizeTime,
    IReadOnlyDictionary<GgmlType, int> TensorTypes);

/// <summary>
/// Writes a synthetic model in any <see cref="WeightFormat"/>: F32 and F16 directly, quantised formats by
/// writing an F16 file beside the output and handing it to llama.cpp's quantiser (then deleting it).
/// </summary>
internal static class SyntheticModelBuilder
{
    /// <param name="writeProgress">(bytes done, bytes total) of the random-weight file.</param>
    /// <param name="runQuantizer">Runs the quantisation step (e.g. under a spinner); null runs it plainly.</param>
    public static BuildReport Build(
        string outputPath,
        ModelShape shape,
        ulong seed,
        WeightFormat format,
        Vocabulary vocabulary,
        int threads,
        float std = 0.02f,
        Action<long, long>? writeProgress = null,
        Action<Action>? runQuantizer = null)
    {
        var quantize = ModelQuantizer.NeedsQuantiser(format);
        var options = new SyntheticModelOptions(shape, seed, format == WeightFormat.F32 ? GgmlType.F32 : GgmlType.F16, std);
        var rawPath = quantize ? outputPath + ".f16.tmp" : outputPath;
        try
        {
            var stopwatch = Stopwatch.StartNew();
            SyntheticModelWriter.Write(rawPath, options, vocabulary, writeProgress);
            var writeTime = stopwatch.Elapsed;

            var quantizeTime = TimeSpan.Zero;
            if (quantize)
            {
                stopwatch.Restart();
                var step = () => ModelQuantizer.Quantize(rawPath, outputPath, format, threads);
                (runQuantizer ?? (action => action()))(step);
                quantizeTime = stopwatch.Elapsed;
            }

            return new BuildReport(
                shape.ParameterCount(vocabulary.Size),
                new FileInfo(outputPath).Length,
                writeTime,
                quantizeTime,
                ModelQuantizer.TensorTypeCounts(outputPath));
        }
        finally
        {
            if (quantize)
            {
                File.Delete(rawPath);
            }
        }
    }
}
