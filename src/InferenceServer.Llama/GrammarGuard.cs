using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;

namespace InferenceServer.Llama;

/// <summary>What <see cref="GrammarGuard.Check"/> found: <see cref="Error"/> is null when the grammar is usable.</summary>
public sealed record GrammarCheck(string? Error)
{
    public static GrammarCheck Usable { get; } = new((string?)null);
    public bool IsUsable => Error is null;
}

/// <summary>
/// Vets a GBNF grammar against a model before any LLamaSharp sampler sees it. LLamaSharp 0.30.0 adds
/// whatever <c>llama_sampler_init_grammar</c> returns to the chain, so a grammar llama.cpp rejects
/// becomes a NULL sampler and a segfault; and a grammar the vocabulary cannot spell leaves every
/// token masked, after which accepting the sampled token throws a C++ exception that aborts the
/// process ("Unexpected empty grammar stack after accepting piece").
/// This guard creates the grammar sampler itself (NULL = rejected), applies it once to the whole
/// vocabulary (no allowed first token = unusable), and checks that every character the grammar's
/// literals spell occurs in some token. Passing is necessary, not sufficient: a grammar can still
/// reach a state no token satisfies later on, so the sampling loop must check the selected
/// candidate before accepting it (see docs/structured-output.md).
/// Thread-safe: each call owns its native sampler; the per-model character table is computed once.
/// </summary>
public static class GrammarGuard
{
    /// <summary>Parentheses nested deeper than this are refused before llama.cpp's recursive parser sees them.</summary>
    public const int MaxNesting = 256;

    private static readonly ConditionalWeakTable<SafeLlamaModelHandle, HashSet<char>> SpellableAscii = new();

    public static GrammarCheck Check(SafeLlamaModelHandle model, string gbnf, string root = "root")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(gbnf);
        if (string.IsNullOrWhiteSpace(gbnf))
            return new("the grammar is empty");
        if (gbnf.Contains('\0') || root.Contains('\0'))
            return new("the grammar contains a NUL character");
        var (scanError, literalChars) = ScanLiterals(gbnf);
        if (scanError is not null)
            return new(scanError);

        var spellable = SpellableAscii.GetValue(model, ComputeSpellableAscii);
        var missing = literalChars.Where(c => c < 0x80 && !spellable.Contains(c)).Order().ToList();
        if (missing.Count > 0)
            return new($"the model's vocabulary cannot spell {string.Join(", ", missing.Select(Describe))}, which the grammar requires");

        return CheckNatively(model, gbnf, root);
    }

    private static unsafe GrammarCheck CheckNatively(SafeLlamaModelHandle model, string gbnf, string root)
    {
        var api = NativeGrammarApi.Instance;
        var vocab = api.ModelGetVocab(model.DangerousGetHandle());
        var grammarBytes = Encoding.UTF8.GetBytes(gbnf + "\0");
        var rootBytes = Encoding.UTF8.GetBytes(root + "\0");
        IntPtr sampler;
        fixed (byte* grammarPtr = grammarBytes)
        fixed (byte* rootPtr = rootBytes)
            sampler = api.InitGrammar(vocab, grammarPtr, rootPtr);
        if (sampler == IntPtr.Zero)
            return new($"llama.cpp rejected the grammar (syntax error, undefined rule, missing '{root}' rule or left recursion)");
        try
        {
            int count = model.Vocab.Count;
            var candidates = new LLamaTokenData[count];
            for (int i = 0; i < count; i++)
                candidates[i] = new LLamaTokenData((LLamaToken)i, 0f, 0f);
            fixed (LLamaTokenData* data = candidates)
            {
                var array = new NativeTokenDataArray { Data = data, Size = (nuint)count, Selected = -1, Sorted = 0 };
                api.Apply(sampler, &array);
            }
            foreach (var candidate in candidates)
                if (!float.IsNegativeInfinity(candidate.Logit))
                    return GrammarCheck.Usable;
            return new("no token of the model's vocabulary can start the grammar");
        }
        finally
        {
            api.Free(sampler);
        }
    }

    /// <summary>Walks the GBNF text once: collects the characters its string literals spell (escapes
    /// decoded) and measures parenthesis nesting. Syntax errors are left to llama.cpp's parser.</summary>
    private static (string? Error, HashSet<char> LiteralChars) ScanLiterals(string gbnf)
    {
        var chars = new HashSet<char>();
        int depth = 0;
        for (int i = 0; i < gbnf.Length; i++)
        {
            char c = gbnf[i];
            switch (c)
            {
                case '#':
                    while (i < gbnf.Length && gbnf[i] != '\n')
                        i++;
                    break;
                case '(':
                    if (++depth > MaxNesting)
                        return ($"the grammar nests parentheses deeper than {MaxNesting}", chars);
                    break;
                case ')':
                    depth--;
                    break;
                case '"' or '[':
                    char close = c == '"' ? '"' : ']';
                    for (i++; i < gbnf.Length && gbnf[i] != close; i++)
                    {
                        int decoded = gbnf[i];
                        if (gbnf[i] == '\\' && i + 1 < gbnf.Length)
                            decoded = DecodeEscape(gbnf, ref i);
                        if (c == '"' && decoded is >= 0 and < 0x80)
                            chars.Add((char)decoded);
                    }
                    if (i >= gbnf.Length)
                        return ($"unterminated {(c == '"' ? "string literal" : "character class")} in the grammar", chars);
                    break;
            }
        }
        return (null, chars);
    }

    /// <summary>Decodes the escape at <paramref name="i"/> (a backslash), leaving i on its last character;
    /// -1 when it is not a single-character escape llama.cpp knows.</summary>
    private static int DecodeEscape(string text, ref int i)
    {
        char kind = text[i + 1];
        int hexDigits = kind switch { 'x' => 2, 'u' => 4, 'U' => 8, _ => 0 };
        if (hexDigits > 0)
        {
            int end = Math.Min(text.Length, i + 2 + hexDigits);
            int value = 0, j = i + 2;
            for (; j < end && char.IsAsciiHexDigit(text[j]); j++)
                value = value * 16 + Convert.ToInt32(text[j].ToString(), 16);
            i = j - 1;
            return value;
        }
        i++;
        return kind switch { 't' => '\t', 'r' => '\r', 'n' => '\n', '\\' or '"' or '[' or ']' => kind, _ => -1 };
    }

    private static HashSet<char> ComputeSpellableAscii(SafeLlamaModelHandle model)
    {
        var vocab = model.Vocab;
        var chars = new HashSet<char>();
        for (int i = 0; i < vocab.Count; i++)
            foreach (var c in vocab.LLamaTokenToString((LLamaToken)i, isSpecialToken: true) ?? "")
                if (c < 0x80)
                    chars.Add(c);
        return chars;
    }

    private static string Describe(char c) => c switch
    {
        '\n' => "'\\n'",
        '\t' => "'\\t'",
        '\r' => "'\\r'",
        < ' ' or '\x7F' => $"U+{(int)c:X4}",
        _ => $"'{c}'",
    };

    /// <summary>llama_token_data_array as laid out by llama.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct NativeTokenDataArray
    {
        public LLamaTokenData* Data;
        public nuint Size;
        public long Selected;
        public byte Sorted;
    }

    /// <summary>Native entry points, reached through LLamaSharp's own library handle (its resolver
    /// knows which CPU variant it loaded); LLamaSharp's wrappers either crash on NULL or hide the pointer.</summary>
    private sealed unsafe class NativeGrammarApi
    {
        public static NativeGrammarApi Instance => Lazy.Value;
        private static readonly Lazy<NativeGrammarApi> Lazy = new(() => new NativeGrammarApi());

        public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr> ModelGetVocab;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr> InitGrammar;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, NativeTokenDataArray*, void> Apply;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> Free;

        private NativeGrammarApi()
        {
            NativeApi.llama_empty_call(); // makes LLamaSharp load (and pick) its native library first
            var library = NativeLibrary.Load("llama", typeof(NativeApi).Assembly, null);
            ModelGetVocab = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "llama_model_get_vocab");
            InitGrammar = (delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr>)NativeLibrary.GetExport(library, "llama_sampler_init_grammar");
            Apply = (delegate* unmanaged[Cdecl]<IntPtr, NativeTokenDataArray*, void>)NativeLibrary.GetExport(library, "llama_sampler_apply");
            Free = (delegate* unmanaged[Cdecl]<IntPtr, void>)NativeLibrary.GetExport(library, "llama_sampler_free");
        }
    }
}
