using InferenceServer.LoadGen.Client;
using InferenceServer.LoadGen.Reports;

namespace InferenceServer.LoadGen.Tests.Client;

public sealed class ChunkParsingTests
{
    [Fact]
    public void Reads_chat_delta_content_and_finish_reason()
    {
        var chunk = StreamingClient.ParseChunk("""{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}""");
        Assert.Equal(("Hi", false), (chunk.Content, chunk.Finished));
        Assert.True(StreamingClient.ParseChunk("""{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""").Finished);
        Assert.Equal("", StreamingClient.ParseChunk("""{"choices":[{"delta":{"role":"assistant","content":""}}]}""").Content);
        Assert.Equal("think", StreamingClient.ParseChunk("""{"choices":[{"delta":{"reasoning_content":"think"}}]}""").Content);
    }

    [Fact]
    public void Reads_completions_text() =>
        Assert.Equal(" word", StreamingClient.ParseChunk("""{"choices":[{"index":0,"text":" word","finish_reason":null}]}""").Content);

    [Fact]
    public void Reads_usage_with_cached_tokens_from_a_choiceless_chunk()
    {
        var chunk = StreamingClient.ParseChunk(
            """{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8}}}""");
        Assert.Equal(new StreamingClient.Usage(12, 8, 5), chunk.Usage);
        Assert.Null(chunk.Content);
        Assert.Equal(new StreamingClient.Usage(3, 0, 1), StreamingClient.ParseChunk("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}""").Usage);
        Assert.Null(StreamingClient.ParseChunk("""{"choices":[],"usage":null}""").Usage);
    }

    [Fact]
    public void Reports_an_error_object_and_rejects_non_objects()
    {
        Assert.Contains("overloaded", StreamingClient.ParseChunk("""{"error":{"message":"overloaded"}}""").Error);
        Assert.Throws<FormatException>(() => StreamingClient.ParseChunk("[1,2]"));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => StreamingClient.ParseChunk("{not json"));
    }

    [Fact]
    public void Completions_prompt_is_the_single_turn_verbatim_or_a_flattened_history()
    {
        Assert.Equal("hello", StreamingClient.RenderPrompt([new ChatMessage("user", "hello")]));
        Assert.Equal("User: a\nAssistant: b\nUser: c\nAssistant:",
            StreamingClient.RenderPrompt([new("user", "a"), new("assistant", "b"), new("user", "c")]));
    }

    [Fact]
    public void Cpu_model_comes_from_proc_cpuinfo_model_name()
    {
        Assert.Equal("AMD EPYC 7B13", MachineInfo.ParseCpuModel(["processor\t: 0", "vendor_id\t: AuthenticAMD", "model name\t: AMD EPYC 7B13", "model name\t: other"]));
        Assert.Equal("Raspberry Pi 4", MachineInfo.ParseCpuModel(["processor : 0", "Model : Raspberry Pi 4"]));
        Assert.Null(MachineInfo.ParseCpuModel(["processor : 0"]));
    }
}
