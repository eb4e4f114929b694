using System.Text.Json.Nodes;
using InferenceServer.Api;
using InferenceServer.Engine;

namespace InferenceServer.Serving.Tests;

/// <summary>Sampling parameters as clients send them: mapped onto the engine's, and each one out of range refused by name.</summary>
public sealed class GenerationSettingsTests
{
    private const int Vocabulary = 512;

    private static GenerationSettings Read(string json, bool toolsServed = false) =>
        GenerationSettings.Read(new RequestReader(JsonNode.Parse(json)!.AsObject()), "max_completion_tokens", Vocabulary, toolsServed);

    private static ApiError ErrorOf(string json, bool toolsServed = false) => RequestReaderTests.ErrorOf(() => Read(json, toolsServed));

    [Fact]
    public void An_empty_request_samples_as_openai_does_by_default()
    {
        var settings = Read("{}");
        Assert.Equal((1f, 1f, 0, 0f), (settings.Sampling.Temperature, settings.Sampling.TopP, settings.Sampling.TopK, settings.Sampling.MinP));
        Assert.Equal((0f, 0f, 1f), (settings.Sampling.FrequencyPenalty, settings.Sampling.PresencePenalty, settings.Sampling.RepetitionPenalty));
        Assert.Null(settings.Sampling.LogitBias);
        Assert.Null(settings.MaxTokens);
        Assert.Empty(settings.Stop);
        Assert.Equal((1, false, false, false), (settings.Choices, settings.Stream, settings.IncludeUsage, settings.IgnoreEos));
        Assert.Equal("", settings.CacheIsolationKey);
    }

    [Fact]
    public void Every_sampling_field_reaches_the_engine()
    {
        var settings = Read("""
            {"temperature": 0.25, "top_p": 0.5, "top_k": 40, "min_p": 0.05, "frequency_penalty": 0.5, "presence_penalty": -1,
             "repetition_penalty": 1.1, "n": 3, "max_tokens": 17, "stop": ["\n", "END"], "stream": true,
             "stream_options": {"include_usage": true}, "cache_salt": "tenant-a", "ignore_eos": true, "logit_bias": {"7": 5, "9": -100}}
            """);
        var sampling = settings.Sampling;
        Assert.Equal((0.25f, 0.5f, 40, 0.05f), (sampling.Temperature, sampling.TopP, sampling.TopK, sampling.MinP));
        Assert.Equal((0.5f, -1f, 1.1f), (sampling.FrequencyPenalty, sampling.PresencePenalty, sampling.RepetitionPenalty));
        Assert.Equal(5f, sampling.LogitBias![7]);
        Assert.Equal(float.NegativeInfinity, sampling.LogitBias[9]); // -100 bans the token outright
        Assert.Equal((3, 17), (settings.Choices, settings.MaxTokens));
        Assert.Equal(["\n", "END"], settings.Stop);
        Assert.Equal((true, true, true, "tenant-a"), (settings.Stream, settings.IncludeUsage, settings.IgnoreEos, settings.CacheIsolationKey));
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, 0)]
    [InlineData(5, 5)]
    [InlineData(100000, Vocabulary)]
    public void Top_k_off_is_0_or_minus_1_and_beyond_the_vocabulary_keeps_every_token(int topK, int expected) =>
        Assert.Equal(expected, Read($$"""{"top_k": {{topK}}}""").Sampling.TopK);

    [Fact]
    public void Max_completion_tokens_wins_over_the_legacy_max_tokens()
    {
        Assert.Equal(5, Read("""{"max_completion_tokens": 5, "max_tokens": 9}""").MaxTokens);
        Assert.Equal(9, Read("""{"max_tokens": 9}""").MaxTokens);
    }

    [Fact]
    public void A_seed_gives_the_same_sampler_seed_every_time_and_different_seeds_differ()
    {
        Assert.Equal(Read("""{"seed": 42}""").Sampling.Seed, Read("""{"seed": 42}""").Sampling.Seed);
        Assert.NotEqual(Read("""{"seed": 42}""").Sampling.Seed, Read("""{"seed": 43}""").Sampling.Seed);
        // 64-bit seeds fold into the sampler's 32 bits with their high half: seeds 2^32 apart still differ.
        Assert.NotEqual(Read("""{"seed": 1}""").Sampling.Seed, Read("""{"seed": 4294967297}""").Sampling.Seed);
    }

    [Theory]
    [InlineData("""{"temperature": 2.5}""", "temperature")]
    [InlineData("""{"temperature": -0.1}""", "temperature")]
    [InlineData("""{"top_p": 0}""", "top_p")]
    [InlineData("""{"top_p": 1.01}""", "top_p")]
    [InlineData("""{"top_k": -2}""", "top_k")]
    [InlineData("""{"min_p": 1.5}""", "min_p")]
    [InlineData("""{"frequency_penalty": 2.5}""", "frequency_penalty")]
    [InlineData("""{"presence_penalty": -2.5}""", "presence_penalty")]
    [InlineData("""{"repetition_penalty": 0}""", "repetition_penalty")]
    [InlineData("""{"n": 0}""", "n")]
    [InlineData("""{"n": 129}""", "n")]
    [InlineData("""{"max_tokens": 0}""", "max_tokens")]
    [InlineData("""{"max_completion_tokens": -1}""", "max_completion_tokens")]
    [InlineData("""{"seed": "lucky"}""", "seed")]
    [InlineData("""{"stream": "yes"}""", "stream")]
    [InlineData("""{"stream_options": {"include_usage": true}}""", "stream_options")]
    [InlineData("""{"stream": true, "stream_options": true}""", "stream_options")]
    [InlineData("""{"stop": ["a", "b", "c", "d", "e"]}""", "stop")]
    [InlineData("""{"stop": [""]}""", "stop")]
    [InlineData("""{"stop": [1]}""", "stop")]
    [InlineData("""{"stop": {"x": 1}}""", "stop")]
    [InlineData("""{"logit_bias": [1]}""", "logit_bias")]
    [InlineData("""{"logit_bias": {"abc": 1}}""", "logit_bias.abc")]
    [InlineData("""{"logit_bias": {"512": 1}}""", "logit_bias.512")]
    [InlineData("""{"logit_bias": {"-1": 1}}""", "logit_bias.-1")]
    [InlineData("""{"logit_bias": {"3": 101}}""", "logit_bias.3")]
    [InlineData("""{"logit_bias": {"3": "up"}}""", "logit_bias.3")]
    [InlineData("""{"cache_salt": 5}""", "cache_salt")]
    [InlineData("""{"ignore_eos": 1}""", "ignore_eos")]
    public void Each_bad_field_is_a_400_naming_it(string json, string param) => Assert.Equal(param, ErrorOf(json).Param);

    [Theory]
    [InlineData("""{"best_of": 2}""", "best_of", false)]
    [InlineData("""{"suffix": "end"}""", "suffix", false)]
    [InlineData("""{"functions": [{"name": "f"}]}""", "functions", true)]
    [InlineData("""{"tools": [{"type": "function"}]}""", "tools", false)]
    [InlineData("""{"tool_choice": "auto"}""", "tool_choice", false)]
    public void Parameters_not_served_are_refused_not_ignored(string json, string param, bool toolsServed)
    {
        var error = ErrorOf(json, toolsServed);
        Assert.Equal((param, "unsupported_parameter"), (error.Param, error.Code));
    }

    [Theory]
    [InlineData("""{"best_of": 0}""")]
    [InlineData("""{"tools": []}""")]
    [InlineData("""{"parallel_tool_calls": false}""")]
    [InlineData("""{"suffix": null}""")]
    public void What_clients_send_to_mean_not_used_is_accepted(string json) => Read(json);

    [Fact]
    public void Tools_are_read_by_the_endpoint_that_serves_them()
    {
        var settings = Read("""{"tools": [{"type": "function"}], "tool_choice": "auto"}""", toolsServed: true);
        Assert.Equal(1, settings.Choices);
    }

    [Fact]
    public void Chat_logprobs_are_a_switch_with_up_to_20_alternatives()
    {
        static GenerationSettings Chat(string json) => Read("{}").WithChatLogprobs(new RequestReader(JsonNode.Parse(json)!.AsObject()));
        Assert.Null(Chat("{}").Logprobs);
        Assert.Equal(0, Chat("""{"logprobs": true}""").Logprobs);
        Assert.Equal(20, Chat("""{"logprobs": true, "top_logprobs": 20}""").Logprobs);
        Assert.Equal("top_logprobs", RequestReaderTests.ErrorOf(() => Chat("""{"top_logprobs": 2}""")).Param);
        Assert.Equal("top_logprobs", RequestReaderTests.ErrorOf(() => Chat("""{"logprobs": true, "top_logprobs": 21}""")).Param);
    }

    [Fact]
    public void Legacy_logprobs_take_0_to_5_alternatives_and_echo()
    {
        static GenerationSettings Legacy(string json) => Read("{}").WithLegacyLogprobs(new RequestReader(JsonNode.Parse(json)!.AsObject()));
        var settings = Legacy("""{"logprobs": 5, "echo": true}""");
        Assert.Equal((5, true), (settings.Logprobs, settings.Echo));
        Assert.Equal("logprobs", RequestReaderTests.ErrorOf(() => Legacy("""{"logprobs": 6}""")).Param);
    }

    [Fact]
    public void The_engine_request_fills_the_context_without_max_tokens_and_refuses_what_does_not_fit()
    {
        var open = Read("{}").ToEngineRequest("r1", [1, 2, 3], maxSequenceTokens: 10, "prompt");
        Assert.Equal(7, open.MaxNewTokens);

        var echo = Read("""{"max_tokens": 7}""").WithLegacyLogprobs(new RequestReader(JsonNode.Parse("""{"logprobs": 1, "echo": true}""")!.AsObject()))
            .ToEngineRequest("r2", [1, 2, 3], maxSequenceTokens: 10, "prompt");
        Assert.Equal((7, 1, true), (echo.MaxNewTokens, echo.Logprobs, echo.PromptLogprobs));

        var tooLong = RequestReaderTests.ErrorOf(() => Read("""{"max_tokens": 8}""").ToEngineRequest("r3", [1, 2, 3], maxSequenceTokens: 10, "messages"));
        Assert.Equal(("messages", "context_length_exceeded"), (tooLong.Param, tooLong.Code));
        Assert.Contains("maximum context length is 10 tokens", tooLong.Message);
        Assert.Contains("you requested 11 tokens (3 in the prompt, 8 for the completion)", tooLong.Message);

        Assert.Equal("prompt", RequestReaderTests.ErrorOf(() => Read("{}").ToEngineRequest("r4", [], 10, "prompt")).Param);
    }
}
