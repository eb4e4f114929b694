using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceServer.Engine.Tests;

/// <summary>
/// Lazy grammars (strict tools in "auto" mode): free until a trigger, then the grammar, then free again or the end.
/// The fake model writes a script; the fake grammar allows one text and ignores the model.
/// </summary>
public class LazyGrammarTests
{
    private const string Prompt = "q:";
    private const string Call = "<tool_call>{ok}</tool_call>";
    private static readonly ModelLimits Limits = new(4096, 4096, 4, 512);

    /// <summary>A model that writes <paramref name="script"/> (token ids) after the prompt, then ends.</summary>
    private static Func<int, int, int> Writes(IReadOnlyList<int> script) => (_, position) =>
        position - (Prompt.Length - 1) is var i && i < script.Count ? script[i] : 0;

    private static int[] Tokens(string text) => text.Select(c => (int)c).ToArray();

    private static LazyGrammar Lazy(string language, bool rearm = false, string[]? markers = null, string[]? openings = null) =>
        new(new SamplingGrammar($"root ::= \"{language}\"\n"), markers ?? ["<tool_call>"], openings ?? [], rearm);

    private static GenerationRequest Request(LazyGrammar? lazy, int maxNew = 80, int[]? prediction = null) =>
        new("r", Tokens(Prompt), maxNew, new SamplingParameters(0) { LazyGrammar = lazy }, []) { Prediction = prediction };

    private static async Task<(string Text, GenerationFinished Finished, FakeExecutor Executor)> Run(
        IReadOnlyList<int> script, LazyGrammar? lazy, FakeTokenizer? tokenizer = null, int[]? prediction = null)
    {
        tokenizer ??= new FakeTokenizer();
        var executor = new FakeExecutor(Limits, Writes(script)) { Tokenizer = tokenizer, Clock = new SteppingClock() };
        using var engine = new InferenceEngine(executor, tokenizer,
            new EngineOptions { Speculation = SpeculationOptions.Default with { Measured = false } },
            NullLogger<InferenceEngine>.Instance, clock: executor.Clock);
        var (text, finished) = await EngineOutput.ReadAll(engine.Submit(Request(lazy, prediction: prediction), CancellationToken.None));
        return (text, finished, executor);
    }

    [Fact]
    public async Task Without_a_trigger_the_output_is_the_models_own()
    {
        var script = Tokens("Hi there, no call <tool here.");
        var (plain, _, _) = await Run(script, null);
        var (lazy, finished, executor) = await Run(script, Lazy(Call));

        Assert.Equal("Hi there, no call <tool here.", plain);
        Assert.Equal(plain, lazy);
        Assert.Equal(FinishReason.Stop, finished.Reason);
        Assert.Empty(executor.GrammarSamplers);
    }

    [Fact]
    public async Task After_the_marker_the_grammar_writes_and_then_the_output_ends()
    {
        var (text, finished, executor) = await Run(Tokens("Hi <tool_call>{\"broken\": [1, </tool_call> and more"), Lazy(Call));

        // The text before the call is the model's; the call is the grammar's; complete, it allows only the end.
        Assert.Equal("Hi " + Call, text);
        Assert.Equal(FinishReason.Stop, finished.Reason);
        var grammar = Assert.Single(executor.GrammarSamplers);
        Assert.Equal(Call, grammar.Accepted);
        Assert.True(grammar.Disposed);
    }

    [Fact]
    public async Task With_rearm_the_output_is_free_after_each_call_and_a_later_marker_triggers_again()
    {
        // The model's script lines up with the forced calls: after each, it goes on where the grammar stopped.
        var filler = new string('x', Call.Length - "<tool_call>".Length);
        var script = Tokens($"A<tool_call>{filler} then <tool_call>{filler} end");
        var (text, finished, executor) = await Run(script, Lazy(Call, rearm: true));

        Assert.Equal($"A{Call} then {Call} end", text);
        Assert.Equal(FinishReason.Stop, finished.Reason);
        Assert.Equal(2, executor.GrammarSamplers.Count);
        Assert.All(executor.GrammarSamplers, g => Assert.Equal(Call, g.Accepted));
    }

    [Fact]
    public async Task A_marker_that_begins_inside_a_token_gives_the_grammar_the_text_before_it_in_that_token()
    {
        const int word = 0xE000; // one token: "Hi <tool"
        var tokenizer = new FakeTokenizer { Words = new Dictionary<int, string> { [word] = "Hi <tool" } };
        var (text, _, executor) = await Run([word, .. Tokens("_call>garbage")], Lazy(Call), tokenizer);

        Assert.Equal("Hi " + Call, text);
        Assert.Equal("Hi " + Call, Assert.Single(executor.GrammarSamplers).Accepted);
    }

    [Fact]
    public async Task Text_after_the_marker_that_the_grammar_forbids_ends_the_request_with_an_error_and_the_engine_goes_on()
    {
        const int word = 0xE001; // "<tool_call> {": the grammar wants "{" right after the marker
        var tokenizer = new FakeTokenizer { Words = new Dictionary<int, string> { [word] = "<tool_call> {" } };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Run([.. Tokens("so "), word, .. Tokens("x}")], Lazy(Call), tokenizer));
        Assert.Contains("grammar does not allow", error.Message);

        var (text, _, _) = await Run(Tokens("fine"), Lazy(Call), tokenizer);
        Assert.Equal("fine", text);
    }

    [Fact]
    public async Task An_opening_counts_only_at_the_start_of_the_answer()
    {
        var lazy = Lazy("{\\\"a\\\": 1}", markers: [], openings: ["{"]);
        var (json, _, _) = await Run(Tokens("  {not json at all"), lazy);
        var (prose, _, executor) = await Run(Tokens("Say {this}"), lazy);

        Assert.Equal("  {\"a\": 1}", json);
        Assert.Equal("Say {this}", prose);
        Assert.Empty(executor.GrammarSamplers);
    }

    [Fact]
    public async Task After_a_call_an_opening_counts_no_more_and_a_marker_opens_the_next()
    {
        // Functionary v3.2's shape: at the start of the answer an opening begins a call, later only a marker does.
        var lazy = Lazy("<c>{1}", rearm: true, markers: ["<c>"], openings: ["<c>"]);
        var (text, _, executor) = await Run(Tokens("<c>xxx then <c>xxx end"), lazy);

        Assert.Equal("<c>{1} then <c>{1} end", text);
        Assert.Equal(2, executor.GrammarSamplers.Count);
    }

    [Fact]
    public async Task The_end_of_generation_is_no_text_that_could_open_a_call()
    {
        const int end = 0;
        var tokenizer = new FakeTokenizer { Words = new Dictionary<int, string> { [end] = "<tool_call>" } };
        var (text, finished, executor) = await Run(Tokens("done"), Lazy(Call), tokenizer);

        Assert.Equal(("done", FinishReason.Stop), (text, finished.Reason));
        Assert.Empty(executor.GrammarSamplers);
    }

    [Fact]
    public async Task Markers_inside_the_reasoning_block_are_not_triggers()
    {
        var lazy = Lazy(Call) with { Reasoning = new ReasoningBlock("<think>", "</think>", StartsInside: false) };
        var (text, _, executor) = await Run(Tokens("<think>maybe <tool_call> now</think>ok <tool_call>zzz"), lazy);

        Assert.Equal("<think>maybe <tool_call> now</think>ok " + Call, text);
        Assert.Single(executor.GrammarSamplers);

        // The prompt opened the block (Qwen3, DeepSeek-R1): the output starts inside it.
        var opened = lazy with { Reasoning = new ReasoningBlock("<think>", "</think>", StartsInside: true) };
        var (inside, _, _) = await Run(Tokens("maybe <tool_call> no</thi</think> <tool_call>zzz"), opened);
        Assert.Equal("maybe <tool_call> no</thi</think> " + Call, inside);
    }

    [Fact]
    public async Task Speculative_drafts_of_the_models_text_leave_the_output_as_without_them()
    {
        var script = Tokens("Hi <tool_call>{\"broken\": [1, </tool_call> and more text after it");
        var (without, _, _) = await Run(script, Lazy(Call));
        // The prediction is what the model would write: drafts are accepted up to the trigger, then the grammar's tokens differ.
        var (with, finished, _) = await Run(script, Lazy(Call), prediction: script);

        Assert.Equal("Hi " + Call, without);
        Assert.Equal(without, with);
        Assert.NotNull(finished.Speculation);
        Assert.True(finished.Speculation!.Accepted > 0);
    }
}
