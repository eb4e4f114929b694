using System.Text.RegularExpressions;
using InferenceServer.Engine;

namespace InferenceServer.Contracts;

/// <summary>A LoRA adapter of a model's catalogue: what a request chooses and the admin endpoints list. Thread-safety: any thread.</summary>
public interface ILoadedAdapter : IAdapter
{
    /// <summary>The scale a request gets when it names the adapter without one.</summary>
    float DefaultScale { get; }

    long CreatedUnixSeconds { get; }
}

/// <summary>
/// The LoRA adapters loaded for one model, by name. A removed adapter is refused to new requests at once, while
/// requests already running with it finish. Thread-safety: all members may be called from any thread.
/// </summary>
public interface IAdapterCatalog
{
    ILoadedAdapter? Find(string name);

    /// <summary>Loaded adapters, by name.</summary>
    IReadOnlyList<ILoadedAdapter> All { get; }

    /// <summary>Loads and registers an adapter from a file on the server.</summary>
    /// <exception cref="ArgumentException">Bad name or scale, or the name is taken.</exception>
    /// <exception cref="AdapterFileException">The file is missing, not GGUF, or not an adapter of this model.</exception>
    ILoadedAdapter Load(string name, string path, float defaultScale);

    /// <summary>False when no adapter has the name.</summary>
    bool Remove(string name);
}

/// <summary>An adapter file cannot be used with the model; the message says why.</summary>
public sealed class AdapterFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What makes an adapter's name and scale valid, wherever they come from (requests, --lora, options).</summary>
public static partial class AdapterRules
{
    /// <summary>What a request may ask for: scales outside this range are refused.</summary>
    public const float MaxScale = 4f;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();

    /// <summary>Null when the name can be an adapter's, else why not. ':' is excluded: "model:adapter" names one.</summary>
    public static string? CheckName(string name) => NamePattern().IsMatch(name) ? null
        : $"'{name}' is not a valid adapter name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.";

    public static string? CheckScale(float scale) => float.IsFinite(scale) && Math.Abs(scale) <= MaxScale ? null
        : $"{scale} is not a valid adapter scale: expected a number from {-MaxScale} to {MaxScale}.";
}
