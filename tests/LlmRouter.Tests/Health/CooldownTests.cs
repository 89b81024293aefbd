using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

public class CooldownTests
{
    private static (RouterHarness Harness, TestChatClient Limited) RateLimited(Func<Exception> error)
    {
        var h = new RouterHarness();
        TestChatClient limited = h.Add("limited");
        int calls = 0;
        limited.GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<ChatResponse>(error())
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "limited ok")));
        h.Add("spare");
        h.Route("chat", "Ordered", "limited", "spare");
        return (h, limited);
    }

    [Fact]
    public async Task A_429_with_retry_after_cools_the_deployment_for_exactly_that_long()
    {
        (RouterHarness h, TestChatClient limited) = RateLimited(() => new FakeClientResultException(429, new FakeHeaders(("retry-after", "20"))));
        using LlmRouterChatClient router = h.Build();

        ChatResponse first = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.Equal("spare", first.GetRoutingReport()!.Deployment);
        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromSeconds(20), router.Deployments[0].CooldownUntil);

        h.Time.Advance(TimeSpan.FromSeconds(19.9));
        Assert.Equal("spare", (await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"))).GetRoutingReport()!.Deployment);
        Assert.Equal(1, limited.Calls);

        h.Time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal("limited", (await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"))).GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task A_429_without_retry_after_cools_for_the_default()
    {
        (RouterHarness h, TestChatClient limited) = RateLimited(() => Http.Status(429));
        h.Options.Health.RateLimitCooldown = TimeSpan.FromSeconds(3);
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        h.Time.Advance(TimeSpan.FromSeconds(2));
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.Equal(1, limited.Calls);

        h.Time.Advance(TimeSpan.FromSeconds(1));
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.Equal(2, limited.Calls);
    }

    [Fact]
    public async Task A_sporadic_529_overloaded_ranks_the_deployment_last_like_a_429()
    {
        (RouterHarness h, TestChatClient limited) = RateLimited(() => new FakeAnthropicException((System.Net.HttpStatusCode)529));
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Null(router.Deployments[0].CooldownUntil);
        Assert.True(router.Deployments[0].IsAtRateLimit);
        h.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(router.Deployments[0].IsAtRateLimit);
    }

    [Fact]
    public async Task Retry_after_is_capped_by_MaxCooldown()
    {
        (RouterHarness h, _) = RateLimited(() => new FakeClientResultException(429, new FakeHeaders(("retry-after", "86400"))));
        h.Options.Health.MaxCooldown = TimeSpan.FromMinutes(2);
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromMinutes(2), router.Deployments[0].CooldownUntil);
    }

    [Fact]
    public async Task A_503_with_retry_after_cools_down_too()
    {
        (RouterHarness h, _) = RateLimited(() => new FakeClientResultException(503, new FakeHeaders(("retry-after", "4"))));
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromSeconds(4), router.Deployments[0].CooldownUntil);
    }

    [Fact]
    public async Task Every_deployment_cooling_down_fails_fast_naming_the_route_and_the_first_return()
    {
        var h = new RouterHarness();
        h.Add("a").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "30"))));
        h.Add("b").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "10"))));
        h.Route("chat", "Ordered", "a", "b");
        using LlmRouterChatClient router = h.Build();
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));
        DateTimeOffset failedAt = h.Time.GetUtcNow();

        h.Time.Advance(TimeSpan.FromSeconds(1));
        NoAvailableDeploymentException e = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        Assert.Equal(NoAvailableDeploymentReason.AllUnavailable, e.Reason);
        Assert.Equal("chat", e.Route);
        Assert.Equal(failedAt + TimeSpan.FromSeconds(10), e.AvailableAt);
        Assert.Equal(["a", "b"], e.UnavailableDeployments);
        Assert.Equal(2, h.Clients.Values.Sum(c => c.Calls));
    }

    [Fact]
    public async Task When_configured_the_least_recently_failed_deployment_gets_one_attempt()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        int aCalls = 0;
        a.GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref aCalls) == 1
            ? Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "60"))))
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "a ok")));
        h.Add("b").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "60"))));
        h.Route("a-only", "Ordered", "a");
        h.Route("b-only", "Ordered", "b");
        h.Route("chat", "Ordered", "b", "a");
        h.Options.Health.AttemptWhenAllUnavailable = true;
        using LlmRouterChatClient router = h.Build();
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("a-only")));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("b-only")));

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("a", response.GetRoutingReport()!.Deployment);
        Assert.Equal(1, response.GetRoutingReport()!.AttemptCount);
        Assert.Equal(1, h.Clients["b"].Calls);
    }
}
