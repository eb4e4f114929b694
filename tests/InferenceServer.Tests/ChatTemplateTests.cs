using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InferenceServer.Contracts;
using InferenceServer.Llama;
using LLama;
using LLama.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Tests;

/// <summary>Which template renders chats: the GGUF's Jinja template, --chat-template FILE or NAME, or the ChatML fallback; bad templates fail at start-up.</summary>
public sealed class ChatTemplateSelectionTests : IDisposable
{
    private readonly LLamaWeights _withTemplate = LLamaWeights.LoadFromFile(new ModelParams(TestFixtures.Model("stories260K-chatml.gguf")));
    private readonly LLamaWeights _withoutTemplate = LLamaWeights.LoadFromFile(new ModelParams(TestFixtures.Model("stories260K.gguf")));

    private static readonly ChatConversation Hi = new([new JsonObject { ["role"] = "user", ["content"] = "Hi" }], null, AddGenerationPrompt: true);

    [Fact]
    public void The_models_jinja_template_is_the_default()
    {
        var renderer = ChatRenderers.Select(_withTemplate, null, out var fallback);
        Assert.Null(fallback);
        Assert.Equal("Jinja template from the model's GGUF metadata", renderer.Name);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", renderer.Render(Hi));
        Assert.False(renderer.RendersTools);
    }

    [Fact]
    public void Without_a_template_chatml_is_the_fallback_and_says_why()
    {
        var renderer = ChatRenderers.Select(_withoutTemplate, null, out var fallback);
        Assert.Contains("no chat template", fallback);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", renderer.Render(Hi));
    }

    [Fact]
    public void A_file_or_a_built_in_name_overrides_the_models_template()
    {
        var file = ChatRenderers.Select(_withTemplate, ToolServerFixture.TemplatePath, out _);
        Assert.True(file.RendersTools);
        Assert.StartsWith("<|im_start|>system\nYou are Qwen", file.Render(Hi));

        var llama3 = ChatRenderers.Select(_withTemplate, "llama3", out _);
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", llama3.Render(Hi));
    }

    [Fact]
    public void A_template_that_does_not_parse_or_an_unknown_name_is_a_start_up_error()
    {
        var broken = Path.GetTempFileName();
        try
        {
            File.WriteAllText(broken, "{% for m in messages %}{{ m.content }");
            var error = Assert.Throws<ModelLoadException>(() => ChatRenderers.Select(_withTemplate, broken, out _));
            Assert.Contains("is not valid Jinja", error.Message);
        }
        finally
        {
            File.Delete(broken);
        }
        var unknown = Assert.Throws<ModelLoadException>(() => ChatRenderers.Select(_withTemplate, "no-such-template", out _));
        Assert.Contains("neither a file nor a chat template name", unknown.Message);
    }

    public void Dispose()
    {
        _withTemplate.Dispose();
        _withoutTemplate.Dispose();
    }
}

/// <summary>A template's raise_exception, or any other failure while rendering, is a 400 with the message; the server keeps serving.</summary>
public sealed class ChatTemplateErrorTests : IAsyncLifetime
{
    private const string Template = """
        {%- for m in messages %}
        {%- if m.role == 'developer' %}{{ raise_exception('Developer messages are not supported by this template.') }}{% endif %}
        {%- if m.content == 'boom' %}{{ m.content.no_such_method() }}{% endif %}
        {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}
        {%- endfor %}
        {%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
        """;

    private readonly string _templateFile = Path.GetTempFileName();
    private WebApplication? _app;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_templateFile, Template);
        _app = ServerApp.Build(["-m", TestFixtures.Model("stories260K-chatml.gguf"), "--chat-template", _templateFile, "--port", "0", "-np", "2", "-t", "1"]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/") };
        while ((await _http.GetAsync("health")).StatusCode != HttpStatusCode.OK) await Task.Delay(50);
    }

    [Theory]
    [InlineData("developer", "Hello", "Developer messages are not supported by this template.")]
    [InlineData("user", "boom", "The chat template failed to render this conversation")]
    public async Task Template_failures_are_400s_with_the_reason(string role, string content, string message)
    {
        foreach (var route in new[] { "v1/chat/completions", "apply-template" })
        {
            var response = await _http.PostAsJsonAsync(route, new JsonObject
            {
                ["model"] = "stories260K-chatml",
                ["messages"] = new JsonArray(new JsonObject { ["role"] = role, ["content"] = content }),
                ["max_tokens"] = 4,
            });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
            Assert.StartsWith(message, (string)error["message"]!);
            Assert.Equal("chat_template_error", (string)error["code"]!);
        }
        var ok = await _http.PostAsJsonAsync("apply-template", new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }) });
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", (string)(await ok.Content.ReadFromJsonAsync<JsonObject>())!["prompt"]!);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        File.Delete(_templateFile);
    }
}
