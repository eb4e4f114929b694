using System.Reflection;
using LLama;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>
/// Loads a LoRA adapter through LLamaSharp and refuses a failed load. In 0.30.0,
/// <c>LoadLoraFromFile</c> on a bad file returns an adapter whose native pointer is null, and applying it
/// segfaults the process; that pointer is internal, so it is read by reflection (LLamaSharp is pinned).
/// The one place that check lives: the server's adapter registry and synthmodel both load through it.
/// </summary>
public static class LoraAdapterLoader
{
    private static readonly PropertyInfo PointerProperty =
        typeof(LoraAdapter).GetProperty("Pointer", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        ?? throw new MissingMemberException(nameof(LoraAdapter), "Pointer");

    /// <exception cref="InvalidDataException">llama.cpp could not load the file as an adapter of this model.</exception>
    public static LoraAdapter Load(LLamaWeights weights, string path)
    {
        var adapter = weights.NativeHandle.LoadLoraFromFile(path);
        if (NativePointer(adapter) == IntPtr.Zero)
        {
            throw new InvalidDataException($"llama.cpp could not load the LoRA adapter {path} (see its log for the reason).");
        }

        return adapter;
    }

    public static IntPtr NativePointer(LoraAdapter adapter) => (IntPtr)PointerProperty.GetValue(adapter)!;
}
