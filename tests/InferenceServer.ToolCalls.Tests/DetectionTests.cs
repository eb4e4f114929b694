namespace InferenceServer.ToolCalls.Tests;

/// <summary>The family is recognised from the real templates in tests/fixtures/chat-templates.</summary>
public class DetectionTests
{
    [Theory]
    [InlineData("Qwen-Qwen2.5-7B-Instruct", ToolCallFormat.Hermes)]
    [InlineData("Qwen-Qwen3-0.6B", ToolCallFormat.Hermes)]
    [InlineData("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", ToolCallFormat.Hermes)]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct", ToolCallFormat.Llama3)]
    [InlineData("meta-llama-Llama-3.2-3B-Instruct", ToolCallFormat.Llama3)]
    [InlineData("meta-llama-Llama-3.3-70B-Instruct", ToolCallFormat.Llama3)]
    [InlineData("mistralai-Mistral-Nemo-Instruct-2407", ToolCallFormat.Mistral)]
    [InlineData("Mistral-Small-3.2-24B-Instruct-2506", ToolCallFormat.Mistral)]
    [InlineData("meetkai-functionary-medium-v3.2", ToolCallFormat.FunctionaryV3)]
    [InlineData("meetkai-functionary-medium-v3.1", ToolCallFormat.FunctionaryV3Llama31)]
    [InlineData("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", ToolCallFormat.DeepSeek)]
    [InlineData("deepseek-ai-DeepSeek-V3.1", ToolCallFormat.DeepSeek)]
    [InlineData("google-gemma-2-2b-it", ToolCallFormat.Generic)]
    public void Recognises_the_family(string template, ToolCallFormat expected) =>
        Assert.Equal(expected, ToolCallSyntax.Detect(File.ReadAllText(TestFixtures.ChatTemplate(template))));

    [Fact]
    public void No_template_is_generic() => Assert.Equal(ToolCallFormat.Generic, ToolCallSyntax.Detect(null));
}
