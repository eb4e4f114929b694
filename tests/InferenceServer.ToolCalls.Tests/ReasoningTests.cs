namespace InferenceServer.ToolCalls.Tests;

/// <summary>Reasoning split from the answer per thinking family, whole and streamed in every chunk size.</summary>
public class ReasoningTests
{
    public sealed record Sample(string Name, string Template, bool PromptOpens, string Output, string Reasoning, string Content)
    {
        public override string ToString() => Name;
    }

    public static readonly Sample[] Samples =
    [
        new("qwen3 think block", "Qwen-Qwen3-0.6B", false, "<think>\nThe user greets me.\n</think>\n\nHello!", "The user greets me.", "Hello!"),
        new("deepseek-r1 prompt opened the block", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", true, "Two plus two is four.\n</think>\n\n4", "Two plus two is four.", "4"),
        new("qwq cut inside its reasoning", "Qwen-QwQ-32B", true, "Let me count: one, two", "Let me count: one, two", ""),
        new("no reasoning at all", "Qwen-Qwen3-0.6B", false, "Just an answer with </think> in it.", "", "Just an answer with </think> in it."),
        new("a think tag later is text", "Qwen-Qwen3-0.6B", false, "Answer first. <think>no</think>", "", "Answer first. <think>no</think>"),
        new("gpt-oss channels", "openai-gpt-oss-120b", false, "<|channel|>analysis<|message|>Simple greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hi there.", "Simple greeting.", "Hi there."),
        new("seed-oss", "ByteDance-Seed-OSS", false, "<seed:think>Plan it.</seed:think>Done.", "Plan it.", "Done."),
        new("command-r7b", "CohereForAI-c4ai-command-r7b-12-2024-tool_use", false, "<|START_THINKING|>Check the tools.<|END_THINKING|>Answer.", "Check the tools.", "Answer."),
        new("ministral reasoning", "mistralai-Ministral-3-14B-Reasoning-2512", false, "[THINK]Short.[/THINK]Long answer.", "Short.", "Long answer."),
        new("gemma 4 thought channel", "google-gemma-4-31B-it", false, "<|channel>thought\nHmm.<channel|>Yes.", "Hmm.", "Yes."),
    ];

    public static TheoryData<Sample> All => new(Samples);

    private static ReasoningSyntax SyntaxOf(string template) =>
        ReasoningSyntax.ForTemplate(File.ReadAllText(TestFixtures.ChatTemplate(template)))
        ?? throw new InvalidOperationException($"{template} is not recognised as a thinking template");

    [Theory]
    [MemberData(nameof(All))]
    public void The_whole_output_splits_into_reasoning_and_answer(Sample sample)
    {
        var split = ReasoningStreamParser.Split(SyntaxOf(sample.Template), sample.PromptOpens, sample.Output);
        Assert.Equal(sample.Reasoning, split.Reasoning);
        Assert.Equal(sample.Content, split.Content);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Any_chunking_streams_the_same_split(Sample sample)
    {
        var syntax = SyntaxOf(sample.Template);
        for (var size = 1; size <= sample.Output.Length; size++)
        {
            var parser = new ReasoningStreamParser(syntax, sample.PromptOpens);
            string reasoning = "", content = "";
            for (var i = 0; i < sample.Output.Length; i += size)
            {
                var piece = parser.Push(sample.Output.Substring(i, Math.Min(size, sample.Output.Length - i)));
                reasoning += piece.Reasoning;
                content += piece.Content;
                // Reasoning is never released after the answer has started.
                if (content.Length > 0) Assert.Equal(sample.Reasoning.Length, reasoning.Length);
            }
            var rest = parser.Finish();
            Assert.Equal(sample.Reasoning, reasoning + rest.Reasoning);
            Assert.Equal(sample.Content, content + rest.Content);
        }
    }

    [Fact]
    public void Templates_that_do_not_think_have_no_reasoning_syntax()
    {
        Assert.Null(ReasoningSyntax.ForTemplate(File.ReadAllText(TestFixtures.ChatTemplate("Qwen-Qwen2.5-7B-Instruct"))));
        Assert.Null(ReasoningSyntax.ForTemplate(null));
    }
}
