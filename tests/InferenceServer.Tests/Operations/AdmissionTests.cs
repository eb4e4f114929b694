using InferenceServer.Api;
using InferenceServer.Engine;
using InferenceServer.Operations;
using Microsoft.Extensions.Options;

namespace InferenceServer.Tests.Operations;

/// <summary>Admission's decisions without a server: per-key request and token windows, and the size limits.</summary>
public sealed class AdmissionTests
{
    private static Admission NewAdmission(int requestsPerMinute = 0, int tokensPerMinute = 0) =>
        new(Options.Create(new ServerOptions { RequestsPerMinute = requestsPerMinute, TokensPerMinute = tokensPerMinute }));

    // Admission reads the request's identity and limits only, never its model.
    private static ResolvedRequest Resolved(string key, RequestLimits limits) =>
        new(null!, AdapterSet.Base, new RequestIdentity(key), limits, new OutputPolicy(true), null, _ => { });

    private static GenerationRequest Request(int promptTokens, int maxNewTokens) =>
        new("r", Enumerable.Range(1, promptTokens).ToArray(), maxNewTokens, new SamplingParameters(), []);

    private static readonly RequestLimits NoLimits = new(MaxMessages: 100, MaxPromptTokens: 0, MaxCompletionTokens: 0);

    [Fact]
    public void A_keys_request_window_refuses_the_request_past_its_allowance_with_retry_after_and_leaves_other_keys_alone()
    {
        using var admission = NewAdmission(requestsPerMinute: 2);
        Assert.Null(admission.TryAcquireRequest(new RequestIdentity("a")));
        Assert.Null(admission.TryAcquireRequest(new RequestIdentity("a")));

        var refused = admission.TryAcquireRequest(new RequestIdentity("a"));
        Assert.NotNull(refused);
        Assert.Equal((429, "rate_limit_error", "rate_limit_exceeded"), (refused.Status, refused.Type, refused.Code));
        Assert.InRange(refused.RetryAfterSeconds!.Value, 1, 60);
        Assert.Contains("2 per minute", refused.Message);

        Assert.Null(admission.TryAcquireRequest(new RequestIdentity("b")));
    }

    [Fact]
    public void Without_limits_nothing_is_refused()
    {
        using var admission = NewAdmission();
        for (var i = 0; i < 1000; i++) Assert.Null(admission.TryAcquireRequest(new RequestIdentity("a")));
        admission.ChargeTokens(new RequestIdentity("a"), int.MaxValue);
    }

    [Fact]
    public void Prompt_plus_max_tokens_is_charged_to_the_keys_token_window()
    {
        using var admission = NewAdmission(tokensPerMinute: 100);
        admission.Admit(Resolved("a", NoLimits), Request(30, 30), maxTokensGiven: true);

        var refused = Assert.Throws<ApiException>(() => admission.Admit(Resolved("a", NoLimits), Request(30, 30), maxTokensGiven: true)).Error;
        Assert.Equal((429, "rate_limit_exceeded"), (refused.Status, refused.Code));
        Assert.Contains("100 per minute", refused.Message);

        // What is left of the window (40) still admits a request that fits it, and another key has its own window.
        admission.Admit(Resolved("a", NoLimits), Request(20, 20), maxTokensGiven: true);
        admission.Admit(Resolved("b", NoLimits), Request(50, 50), maxTokensGiven: true);
    }

    [Fact]
    public void A_request_larger_than_the_whole_token_window_takes_all_of_it_instead_of_being_refused_forever()
    {
        using var admission = NewAdmission(tokensPerMinute: 100);
        admission.ChargeTokens(new RequestIdentity("a"), 500);
        Assert.Throws<ApiException>(() => admission.ChargeTokens(new RequestIdentity("a"), 1));
    }

    [Fact]
    public void A_prompt_over_max_prompt_tokens_is_a_400()
    {
        using var admission = NewAdmission();
        var limits = NoLimits with { MaxPromptTokens = 10 };
        admission.Admit(Resolved("a", limits), Request(10, 5), maxTokensGiven: false);

        var error = Assert.Throws<ApiException>(() => admission.Admit(Resolved("a", limits), Request(11, 5), maxTokensGiven: false)).Error;
        Assert.Equal((400, "prompt_too_long"), (error.Status, error.Code));
        Assert.Contains("11 tokens", error.Message);
    }

    [Fact]
    public void Max_completion_tokens_caps_an_absent_max_tokens_and_refuses_a_larger_explicit_one()
    {
        using var admission = NewAdmission();
        var limits = NoLimits with { MaxCompletionTokens = 50 };

        Assert.Equal(50, admission.Admit(Resolved("a", limits), Request(5, 1000), maxTokensGiven: false).MaxNewTokens);
        Assert.Equal(50, admission.Admit(Resolved("a", limits), Request(5, 50), maxTokensGiven: true).MaxNewTokens);
        var error = Assert.Throws<ApiException>(() => admission.Admit(Resolved("a", limits), Request(5, 51), maxTokensGiven: true)).Error;
        Assert.Equal((400, "max_tokens", "invalid_value"), (error.Status, error.Param, error.Code));
    }

    [Fact]
    public void The_capped_completion_is_what_the_token_window_is_charged()
    {
        using var admission = NewAdmission(tokensPerMinute: 100);
        var limits = NoLimits with { MaxCompletionTokens = 40 };
        // Asked for 1000 without max_tokens: capped to 40, so 10 + 40 = 50 is charged, and 50 are left.
        admission.Admit(Resolved("a", limits), Request(10, 1000), maxTokensGiven: false);
        admission.Admit(Resolved("a", limits), Request(10, 40), maxTokensGiven: true);
        Assert.Throws<ApiException>(() => admission.Admit(Resolved("a", limits), Request(1, 1), maxTokensGiven: true));
    }

    [Fact]
    public void Too_many_messages_is_a_400_naming_messages()
    {
        using var admission = NewAdmission();
        admission.CheckMessages(Resolved("a", NoLimits with { MaxMessages = 3 }), 3);
        var error = Assert.Throws<ApiException>(() => admission.CheckMessages(Resolved("a", NoLimits with { MaxMessages = 3 }), 4)).Error;
        Assert.Equal(("messages", "too_many_messages"), (error.Param, error.Code));
    }
}
