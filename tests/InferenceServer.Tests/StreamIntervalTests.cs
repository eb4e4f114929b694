using System.Text;
using OpenAI.Chat;

namespace InferenceServer.Tests;

/// <summary>A server started with --stream-interval 4 (one text delta per 4 generated tokens), driven by the OpenAI .NET SDK.</summary>
public sealed class StreamIntervalServerFixture : ServerFixture
{
    protected override string[] ExtraArgs => ["--stream-interval", "4"];
}

[CollectionDefinition(Name)]
public sealed class StreamIntervalServerCollection : ICollectionFixture<StreamIntervalServerFixture>
{
    public const string Name = "stream interval server";
}

[Collection(StreamIntervalServerCollection.Name)]
public sealed class StreamIntervalTests(StreamIntervalServerFixture server)
{
    [Fact]
    public async Task A_streamed_answer_comes_in_one_chunk_per_four_tokens_and_reads_as_the_whole_answer()
    {
        var chat = server.OpenAI().GetChatClient(ServerFixture.ModelId);
        ChatMessage[] messages = [new UserChatMessage("Tell me a story about a dog.")];
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 33 };
        ChatCompletion whole = await chat.CompleteChatAsync(messages, options);

        var text = new StringBuilder();
        var chunks = 0;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            var piece = string.Concat(update.ContentUpdate.Select(p => p.Text));
            if (piece.Length > 0) chunks++;
            text.Append(piece);
            usage ??= update.Usage;
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.Usage.OutputTokenCount, usage!.OutputTokenCount);
        // The first token's text at once, then one chunk per 4 tokens, the last holding what is left.
        var tokens = usage.OutputTokenCount;
        Assert.True(tokens > 8, $"{tokens} tokens: too few to show the interval");
        Assert.InRange(chunks, 2, 2 + (tokens - 1) / 4);
    }
}
