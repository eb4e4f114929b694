using System.ClientModel;
using System.Text;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>Chat completions through the official OpenAI .NET SDK, unchanged, against the real server.</summary>
[Collection(ServerCollection.Name)]
public class ChatCompletionsTests(ServerFixture server)
{
    private ChatClient Chat => server.OpenAI().GetChatClient(ServerFixture.ModelId);

    private static ChatCompletionOptions Greedy(int maxTokens, params string[] stops)
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = maxTokens };
        foreach (var stop in stops) options.StopSequences.Add(stop);
        return options;
    }

    private static async Task<(string Text, ChatFinishReason? Finish, ChatTokenUsage? Usage, int Chunks)> Stream(
        ChatClient chat, IEnumerable<ChatMessage> messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var chunks = 0;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            chunks++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        return (text.ToString(), finish, usage, chunks);
    }

    [Fact]
    public async Task A_chat_completion_reports_text_finish_reason_and_exact_usage()
    {
        ChatCompletion completion = await Chat.CompleteChatAsync(
            [new SystemChatMessage("You tell stories."), new UserChatMessage("Tell me a story about a dog.")], Greedy(12));

        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(12, completion.Usage.OutputTokenCount);
        var prompt = server.Model.ChatRenderer.Render(new InferenceServer.Contracts.ChatConversation(
            [new System.Text.Json.Nodes.JsonObject { ["role"] = "system", ["content"] = "You tell stories." },
             new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = "Tell me a story about a dog." }], null, AddGenerationPrompt: true));
        Assert.Equal(server.Model.Tokenizer.Tokenize(prompt, true, true).Length, completion.Usage.InputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + 12, completion.Usage.TotalTokenCount);
        Assert.StartsWith("chatcmpl-", completion.Id);
    }

    [Fact]
    public async Task Streaming_yields_the_same_greedy_text_as_a_whole_response_and_ends_with_usage()
    {
        ChatMessage[] messages = [new UserChatMessage("Once upon a time there was a cat.")];
        ChatCompletion whole = await Chat.CompleteChatAsync(messages, Greedy(24));
        var streamed = await Stream(Chat, messages, Greedy(24));

        Assert.Equal(whole.Content[0].Text, streamed.Text);
        Assert.Equal(ChatFinishReason.Length, streamed.Finish);
        Assert.NotNull(streamed.Usage);
        Assert.Equal(24, streamed.Usage!.OutputTokenCount);
        Assert.True(streamed.Chunks > 3, "the answer should arrive in several chunks");
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_answer_before_it_and_is_never_sent()
    {
        ChatMessage[] messages = [new UserChatMessage("Tell me about Lily and her ball.")];
        ChatCompletion free = await Chat.CompleteChatAsync(messages, Greedy(40));
        var text = free.Content[0].Text;
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 4, $"need a few words to pick a stop from: '{text}'");
        // A stop that spans a word boundary, so it is very likely split across tokens.
        var stop = words[2][^1..] + " " + words[3][..1];
        var expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];

        ChatCompletion stopped = await Chat.CompleteChatAsync(messages, Greedy(40, stop));
        var streamed = await Stream(Chat, messages, Greedy(40, stop));

        Assert.Equal(expected, stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(expected, streamed.Text);
        Assert.Equal(ChatFinishReason.Stop, streamed.Finish);
    }

    [Fact]
    public async Task Content_given_as_text_parts_is_read_as_the_parts_joined_by_newlines()
    {
        ChatCompletion asString = await Chat.CompleteChatAsync([new UserChatMessage("The sun is warm.\nThe bird sings.")], Greedy(10));
        ChatCompletion asParts = await Chat.CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateTextPart("The sun is warm."), ChatMessageContentPart.CreateTextPart("The bird sings."))], Greedy(10));

        Assert.Equal(asString.Usage.InputTokenCount, asParts.Usage.InputTokenCount);
        Assert.Equal(asString.Content[0].Text, asParts.Content[0].Text);
    }

    [Fact]
    public async Task Sixteen_concurrent_streams_all_finish()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Stream(Chat, [new UserChatMessage($"Tell me story number {i} about a frog.")],
                new ChatCompletionOptions { Temperature = 0.8f, MaxOutputTokenCount = 32 })));

        Assert.All(results, r =>
        {
            Assert.NotNull(r.Finish);
            Assert.True(r.Usage!.OutputTokenCount is > 0 and <= 32);
        });
    }

    [Fact]
    public async Task Errors_map_to_the_sdk_exceptions_with_openai_status_codes()
    {
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.OpenAI().GetChatClient("no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, unknown.Status);

        var tooHot = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { Temperature = 7 }));
        Assert.Equal(400, tooHot.Status);
        Assert.Contains("temperature", tooHot.Message);

        var tooLong = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat.CompleteChatAsync([new UserChatMessage(string.Join(' ', Enumerable.Repeat("dog", 600)))]));
        Assert.Equal(400, tooLong.Status);
        Assert.Contains("maximum context length is 512 tokens", tooLong.Message);
    }

    [Fact]
    public async Task Text_the_vocabulary_cannot_encode_is_refused_instead_of_crashing_the_process()
    {
        // TinyStories-656K has no byte-fallback tokens: llama.cpp would abort the process on these.
        foreach (var text in new[] { "café {x}", "a # b", "emoji 😀" })
        {
            var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat.CompleteChatAsync([new UserChatMessage(text)]));
            Assert.Equal(400, refused.Status);
        }
        ChatCompletion still = await Chat.CompleteChatAsync([new UserChatMessage("Hello")], Greedy(3));
        Assert.Equal(3, still.Usage.OutputTokenCount);
    }
}
