using System.Net;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.Routing;

public class ContextWindowAndContentPolicyTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(100);

    /// <summary>About 2,000 o200k tokens ("hello" and a space are one token each, 12,000 chars).</summary>
    private static readonly ChatMessage[] LongPrompt = [new(ChatRole.User, string.Concat(Enumerable.Repeat("hello ", 2_000)))];

    private static Exception Status(HttpStatusCode status, string message = "failed") => new HttpRequestException(message, null, status);

    [Fact]
    public async Task A_prompt_that_does_not_fit_a_deployments_window_is_never_sent_to_it()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", Fast, d => d.ContextWindow = 1_000);
        TestChatClient large = h.Add("large", Fast, d => d.ContextWindow = 100_000);
        h.Route("chat", "Ordered", "small", "large");
        using LlmRouterChatClient router = h.Build();

        ChatResponse longOne = await router.GetResponseAsync(LongPrompt, RouterHarness.For("chat"));
        ChatResponse shortOne = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("large", longOne.GetRoutingReport()!.Deployment);
        Assert.Equal(1, longOne.GetRoutingReport()!.AttemptCount);
        Assert.Equal("small", shortOne.GetRoutingReport()!.Deployment);
        Assert.Equal((1, 1), (small.Calls, large.Calls));
    }

    [Fact]
    public async Task The_output_cap_counts_against_the_window()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", Fast, d => d.ContextWindow = 4_000);
        h.Add("large", Fast, d => d.ContextWindow = 100_000);
        h.Route("chat", "Ordered", "small", "large");
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat", MaxOutputTokens = 5_000 });

        Assert.Equal("large", response.GetRoutingReport()!.Deployment);
        Assert.Equal(0, small.Calls);
    }

    [Fact]
    public async Task A_fallback_route_whose_window_is_too_small_is_skipped_for_a_larger_one()
    {
        var h = new RouterHarness();
        h.Add("main", TestChatClient.Throwing("main", () => Status(HttpStatusCode.ServiceUnavailable)), d => d.ContextWindow = 8_000);
        TestChatClient tiny = h.Add("tiny", Fast, d => d.ContextWindow = 1_000);
        TestChatClient big = h.Add("big", Fast, d => d.ContextWindow = 200_000);
        h.Route("chat", "Ordered", "main").Fallbacks.Add("cheap");
        h.Route("cheap", "Ordered", "tiny").Fallbacks.Add("roomy");
        h.Route("roomy", "Ordered", "big");
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(LongPrompt, RouterHarness.For("chat"));

        Assert.Equal(["main", "big"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
        Assert.Equal(0, tiny.Calls);
        Assert.Equal(1, big.Calls);
    }

    [Fact]
    public async Task When_no_window_fits_the_request_fails_before_any_call_saying_so()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", Fast, d => d.ContextWindow = 1_000);
        h.Route("chat", "Ordered", "small");
        using LlmRouterChatClient router = h.Build();

        NoAvailableDeploymentException ex = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => router.GetResponseAsync(LongPrompt, RouterHarness.For("chat")));

        Assert.Equal(NoAvailableDeploymentReason.ContextWindowTooSmall, ex.Reason);
        Assert.Equal(0, small.Calls);
    }

    [Fact]
    public void A_deployment_without_a_configured_window_takes_the_catalogues()
    {
        var h = new RouterHarness();
        h.Add("four-o", Fast, d => d.ModelId = "gpt-4o");
        h.Add("own", Fast, d => { d.ModelId = "gpt-4o"; d.ContextWindow = 50_000; });
        using LlmRouterChatClient router = h.Build();

        Assert.Equal(PriceCatalog.Default.Find("gpt-4o")!.ContextWindow, router.Deployments[0].ContextWindow);
        Assert.NotNull(router.Deployments[0].ContextWindow);
        Assert.Equal(50_000, router.Deployments[1].ContextWindow);
    }

    private static RouterHarness ContentHarness(out TestChatClient strict, out TestChatClient lenient, bool withFallback = true)
    {
        var h = new RouterHarness();
        strict = h.Add("strict", Fast);
        lenient = h.Add("lenient", Fast);
        h.Add("other-strict", Fast);
        RouteOptions chat = h.Route("chat", "Ordered", "strict", "other-strict");
        h.Route("permissive", "Ordered", "lenient");
        if (withFallback)
        {
            chat.ContentPolicyFallback = "permissive";
        }

        return h;
    }

    private static void FilterAnswers(RouterHarness h, TestChatClient client) =>
        client.GetResponseAsyncCallback = (_, _, _) =>
        {
            h.Time.Advance(Fast);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, string.Empty)) { FinishReason = ChatFinishReason.ContentFilter });
        };

    [Fact]
    public async Task A_response_stopped_by_the_content_filter_goes_to_the_content_policy_fallback_route()
    {
        RouterHarness h = ContentHarness(out TestChatClient strict, out TestChatClient lenient);
        FilterAnswers(h, strict);
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        RoutingReport report = response.GetRoutingReport()!;
        Assert.Equal(("lenient", "permissive", "chat"), (report.Deployment, report.Route, report.RequestedRoute));
        AttemptRecord filtered = report.Attempts[0];
        Assert.Equal(("strict", FailureKind.ContentFiltered), (filtered.Deployment, filtered.FailureKind));
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason ?? ChatFinishReason.Stop);
        Assert.Equal(1, lenient.Calls);
        Assert.Equal(0, router.Deployments[0].FailureRate); // a refusal is not the deployment's ill health
        Assert.Null(router.Deployments[0].CooldownUntil);
    }

    [Fact]
    public async Task A_content_policy_error_goes_to_the_fallback_route_and_skips_the_rest_of_the_route()
    {
        RouterHarness h = ContentHarness(out TestChatClient strict, out TestChatClient lenient);
        strict.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(
            Status(HttpStatusCode.BadRequest, "The response was filtered due to the prompt triggering content management policy. (content_filter)"));
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(["strict", "lenient"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
        Assert.Equal(0, h.Clients["other-strict"].Calls);
        Assert.Equal(1, lenient.Calls);
    }

    [Fact]
    public async Task Without_a_content_policy_fallback_the_refusal_reaches_the_caller_unchanged()
    {
        RouterHarness h = ContentHarness(out TestChatClient strict, out _, withFallback: false);
        FilterAnswers(h, strict);
        using LlmRouterChatClient router = h.Build();

        ChatResponse filtered = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        strict.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Status(HttpStatusCode.BadRequest, "content_policy_violation"));
        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        Assert.Equal(ChatFinishReason.ContentFilter, filtered.FinishReason);
        Assert.Equal("content_policy_violation", error.Message);
        Assert.Equal(0, h.Clients["other-strict"].Calls);
    }

    [Fact]
    public async Task When_the_fallback_route_has_nothing_available_the_filtered_answer_is_returned()
    {
        RouterHarness h = ContentHarness(out TestChatClient strict, out TestChatClient lenient);
        FilterAnswers(h, strict);
        lenient.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "60"))));
        using LlmRouterChatClient router = h.Build();
        await Assert.ThrowsAnyAsync<LlmRouterException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("permissive")));

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(ChatFinishReason.ContentFilter, response.FinishReason);
        Assert.Equal("strict", response.GetRoutingReport()!.Deployment);
        Assert.Equal(1, lenient.Calls);
    }

    [Theory]
    [InlineData("nowhere")]
    [InlineData("chat")]
    public void A_content_policy_fallback_must_be_another_configured_route(string fallback)
    {
        RouterHarness h = ContentHarness(out _, out _);
        h.Options.Routes[0].ContentPolicyFallback = fallback;

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => h.Build());

        Assert.Contains($"ContentPolicyFallback names '{fallback}': it must be another configured route", ex.Message, StringComparison.Ordinal);
    }
}
