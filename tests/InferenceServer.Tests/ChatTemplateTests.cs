using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Tests;

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
