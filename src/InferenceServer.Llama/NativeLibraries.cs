using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>Which llama.cpp build the process runs: LLamaSharp's packaged one, or one built for the machine.</summary>
public static class NativeLibraries
{
    private const string LlamaLibrary = "libllama.so";

    /// <summary>
    /// Makes LLamaSharp load libllama.so from <paramref name="directory"/>; libllama finds its libggml*.so beside it
    /// (llama.cpp builds with RUNPATH $ORIGIN). Must run before the first call into llama.cpp: LLamaSharp fixes its
    /// choice when the library loads. Throws <see cref="ArgumentException"/> when the folder has no libllama.so.
    /// </summary>
    public static void LoadFrom(string directory)
    {
        var llama = Path.GetFullPath(Path.Combine(directory, LlamaLibrary));
        if (!File.Exists(llama))
            throw new ArgumentException($"--native-lib-dir '{directory}' has no {LlamaLibrary} (the folder must hold libllama.so and its libggml*.so).");
        NativeLibraryConfig.All.WithLibrary(llama, null);
    }

    /// <summary>The path of the libllama.so this process loaded (from /proc/self/maps), or null before it loads.</summary>
    public static string? LoadedLlamaPath()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return null;
        return File.ReadLines(maps)
            .Select(line => line.IndexOf('/') is var slash and >= 0 ? line[slash..] : "")
            .FirstOrDefault(path => Path.GetFileName(path) == LlamaLibrary);
    }

    /// <summary>llama.cpp's own summary of the CPU features its loaded backends use (AVX2, AVX512, ...).</summary>
    public static string SystemInfo() =>
        System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info())?.Trim() ?? "";
}
