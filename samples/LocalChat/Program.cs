// The engine in this process through Microsoft.Extensions.AI: chat, streaming, a tool, a typed result, embeddings.
// Run from the repository root: dotnet run --project samples/LocalChat [-- MODEL.gguf [CHAT_TEMPLATE]]
// Without arguments it uses the repository's tiny test model, which writes children's stories, not answers:
// the point is the API, and the tool call and the typed result are forced by grammars, not by the model's wits.
using System.ComponentModel;
using InferenceServer.Embedded;
using Microsoft.Extensions.AI;

var model = args.Length > 0 ? args[0] : "tests/fixtures/models/stories260K-chatml.gguf";
var template = args.Length > 1 ? args[1] : args.Length > 0 ? null : "tests/fixtures/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja";

await using var local = await LocalInference.StartAsync(new LocalInferenceOptions { ModelPath = model, ChatTemplate = template, ContextSize = 8192, Parallel = 4 });
IChatClient chat = new ChatClientBuilder(local.GetChatClient()).UseFunctionInvocation().Build();

Console.WriteLine("== chat");
var answer = await chat.GetResponseAsync("Tell me a story about a cat.", new ChatOptions { MaxOutputTokens = 40, Temperature = 0 });
Console.WriteLine($"{answer.Text}\n[{answer.FinishReason}, {answer.Usage?.InputTokenCount} prompt + {answer.Usage?.OutputTokenCount} completion tokens]");

Console.WriteLine("== streaming");
await foreach (var update in chat.GetStreamingResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 40 }))
    Console.Write(update.Text);
Console.WriteLine();

Console.WriteLine("== a tool");
var weather = AIFunctionFactory.Create(([Description("The city")] string city) =>
{
    Console.WriteLine($"  (get_weather called with city = {city})");
    return $"Sunny, 21 degrees in {city}.";
}, "get_weather", "Gets the weather forecast for a city.");
var withTool = await chat.GetResponseAsync("What is the weather in Paris?",
    new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = false, MaxOutputTokens = 200, Temperature = 0 });
Console.WriteLine($"{withTool.Text}\n[{withTool.Messages.Count} messages: call, result, answer]");

Console.WriteLine("== a typed result");
var forecast = await chat.GetResponseAsync<Forecast>("The forecast for Rome, as JSON.", new ChatOptions { MaxOutputTokens = 80, Temperature = 0 });
Console.WriteLine(forecast.TryGetResult(out var result) ? result.ToString() : $"(not a forecast: {forecast.Text})");

Console.WriteLine("== embeddings");
var embeddings = await local.GetEmbeddingGenerator().GenerateAsync(["a cat", "a dog"]);
Console.WriteLine($"{embeddings.Count} vectors of {embeddings[0].Vector.Length} dimensions");

internal enum Sky { Sunny, Cloudy, Rainy }

internal sealed record Forecast(Sky Sky, [property: System.ComponentModel.DataAnnotations.Range(-40, 50)] int Temperature);
