using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using LLama;

namespace InferenceServer.Llama.Tests;

/// <summary>Which template renders chats: the GGUF's Jinja template, --chat-template FILE or NAME, or the ChatML fallback; bad templates fail at start-up.</summary>
[Collection(TinyModelsCollection.Name)]
public sealed class ChatRenderersTests(TinyModels models)
{
    private LLamaWeights WithTemplate => models.StoriesChatml;
    private LLamaWeights WithoutTemplate => models.Stories;

    private static readonly ChatConversation Hi = new([new JsonObject { ["role"] = "user", ["content"] = "Hi" }], null, AddGenerationPrompt: true);

    [Fact]
    public void The_models_jinja_template_is_the_default()
    {
        var renderer = ChatRenderers.Select(WithTemplate, null, out var fallback);
        Assert.Null(fallback);
        Assert.Equal("Jinja template from the model's GGUF metadata", renderer.Name);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", renderer.Render(Hi));
        Assert.False(renderer.RendersTools);
    }

    [Fact]
    public void Without_a_template_chatml_is_the_fallback_and_says_why()
    {
        var renderer = ChatRenderers.Select(WithoutTemplate, null, out var fallback);
        Assert.Contains("no chat template", fallback);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", renderer.Render(Hi));
    }

    [Fact]
    public void A_file_or_a_built_in_name_overrides_the_models_template()
    {
        var file = ChatRenderers.Select(WithTemplate, TestFixtures.ChatTemplate("Qwen-Qwen2.5-7B-Instruct"), out _);
        Assert.True(file.RendersTools);
        Assert.StartsWith("<|im_start|>system\nYou are Qwen", file.Render(Hi));

        var llama3 = ChatRenderers.Select(WithTemplate, "llama3", out _);
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", llama3.Render(Hi));
    }

    [Fact]
    public void A_template_that_does_not_parse_or_an_unknown_name_is_a_start_up_error()
    {
        var broken = Path.GetTempFileName();
        try
        {
            File.WriteAllText(broken, "{% for m in messages %}{{ m.content }");
            var error = Assert.Throws<ModelLoadException>(() => ChatRenderers.Select(WithTemplate, broken, out _));
            Assert.Contains("is not valid Jinja", error.Message);
        }
        finally
        {
            File.Delete(broken);
        }
        var unknown = Assert.Throws<ModelLoadException>(() => ChatRenderers.Select(WithTemplate, "no-such-template", out _));
        Assert.Contains("neither a file nor a chat template name", unknown.Message);
    }
}
