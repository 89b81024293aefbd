using System.Net;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class FailoverTests
{
    private static (RouterHarness Harness, TestChatClient Second) TwoDeployments(Func<Exception> firstError, Action<DeploymentOptions>? first = null, Action<DeploymentOptions>? second = null)
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a", configure: first);
        a.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(firstError());
        TestChatClient b = h.Add("b", configure: second);
        h.Route("chat", "Ordered", "a", "b");
        return (h, b);
    }

    public static TheoryData<string, Func<Exception>> FailOverErrors => new()
    {
        { "408", () => Http.Status(408) },
        { "429", () => Http.Status(429) },
        { "500", () => Http.Status(500) },
        { "503", () => Http.Status(503) },
        { "529", () => Http.Status(529) },
        { "connection refused", () => new HttpRequestException(HttpRequestError.ConnectionError, "refused") },
        { "connection reset", () => new IOException("connection reset by peer") },
        { "malformed body", () => new System.Text.Json.JsonException("bad json") },
        { "401", () => Http.Status(401) },
        { "403", () => Http.Status(403) },
        { "404", () => Http.Status(404) },
    };

    [Theory]
    [MemberData(nameof(FailOverErrors))]
    public async Task Fails_over_to_the_next_deployment(string name, Func<Exception> error)
    {
        (RouterHarness h, TestChatClient b) = TwoDeployments(error);
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.True(b.Calls == 1, name);
        Assert.Equal("b", response.GetRoutingReport()!.Deployment);
        Assert.Equal(AttemptOutcome.Failed, response.GetRoutingReport()!.Attempts[0].Outcome);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(422)]
    [InlineData(409 + 9)]
    public async Task Does_not_fail_over_on_a_bad_request_and_rethrows_the_original(int status)
    {
        HttpRequestException original = Http.Status(status);
        (RouterHarness h, TestChatClient b) = TwoDeployments(() => original);
        using LlmRouterChatClient router = h.Build();

        HttpRequestException thrown = await Assert.ThrowsAsync<HttpRequestException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        Assert.Same(original, thrown);
        Assert.Equal(0, b.Calls);
    }

    [Fact]
    public async Task Bad_requests_do_not_count_against_health()
    {
        (RouterHarness h, _) = TwoDeployments(() => Http.Status(400));
        h.Options.Health.ConsecutiveFailureThreshold = 1;
        using LlmRouterChatClient router = h.Build();

        for (int i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));
        }

        Deployment a = router.Deployments[0];
        Assert.Equal(CircuitState.Closed, a.CircuitState);
        Assert.Null(a.CooldownUntil);
        Assert.Equal(3, h.Clients["a"].Calls);
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    public async Task Misconfigured_deployments_cool_down_for_long(int status)
    {
        (RouterHarness h, _) = TwoDeployments(() => Http.Status(status));
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        h.Time.Advance(TimeSpan.FromMinutes(4));
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(1, h.Clients["a"].Calls);
        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromMinutes(1), router.Deployments[0].CooldownUntil);
        h.Time.Advance(TimeSpan.FromMinutes(1));
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.Equal(2, h.Clients["a"].Calls);
    }

    [Fact]
    public async Task A_context_overflow_goes_to_a_deployment_with_a_larger_window_skipping_smaller_ones()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", configure: d => d.ContextWindow = 8_000);
        small.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(400, "This model's maximum context length is 8000 tokens"));
        TestChatClient smaller = h.Add("smaller", configure: d => d.ContextWindow = 4_000);
        TestChatClient large = h.Add("large", configure: d => d.ContextWindow = 128_000);
        h.Route("chat", "Ordered", "small", "smaller", "large");
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("large", response.GetRoutingReport()!.Deployment);
        Assert.Equal(0, smaller.Calls);
        Assert.Equal(FailureKind.ContextWindowExceeded, response.GetRoutingReport()!.Attempts[0].FailureKind);
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
        Assert.Equal(0.0, router.Deployments[0].FailureRate);
    }

    [Fact]
    public async Task A_context_overflow_checks_the_fallback_routes_window_too()
    {
        var h = new RouterHarness();
        TestChatClient primary = h.Add("primary", configure: d => d.ContextWindow = 16_000);
        primary.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(400, "prompt is too long: 20000 tokens > 16000 maximum"));
        TestChatClient tiny = h.Add("tiny", configure: d => d.ContextWindow = 8_000);
        TestChatClient huge = h.Add("huge", configure: d => d.ContextWindow = 200_000);
        h.Route("chat", "Ordered", "primary").Fallbacks.Add("backup");
        h.Route("backup", "Ordered", "tiny", "huge");
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("huge", response.GetRoutingReport()!.Deployment);
        Assert.Equal("backup", response.GetRoutingReport()!.Route);
        Assert.Equal(0, tiny.Calls);
    }

    [Fact]
    public async Task When_every_attempt_fails_the_error_lists_the_attempts_and_wraps_the_last_error()
    {
        var h = new RouterHarness();
        foreach (string name in new[] { "a", "b", "c" })
        {
            h.Add(name).GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503, $"{name} down"));
        }

        h.Route("chat", "Ordered", "a", "b", "c");
        using LlmRouterChatClient router = h.Build();

        AllAttemptsFailedException e = await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        Assert.Equal("chat", e.Route);
        Assert.Equal(["a", "b", "c"], e.Attempts.Select(a => a.Deployment));
        Assert.All(e.Attempts, a => Assert.Equal(503, a.StatusCode));
        Assert.Equal("c down", e.InnerException!.Message);
    }

    [Fact]
    public async Task A_synchronous_throw_from_a_client_fails_over_too()
    {
        var h = new RouterHarness();
        h.Add("a").GetResponseAsyncCallback = (_, _, _) => throw Http.Status(502);
        TestChatClient b = h.Add("b");
        h.Route("chat", "Ordered", "a", "b");
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("b", response.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task A_one_shot_message_sequence_is_sent_whole_to_the_deployment_that_fails_over()
    {
        var h = new RouterHarness();
        h.Add("a").GetResponseAsyncCallback = (m, _, _) =>
        {
            _ = m.Count();
            return Task.FromException<ChatResponse>(Http.Status(503));
        };
        int seen = -1;
        h.Add("b").GetResponseAsyncCallback = (m, _, _) =>
        {
            seen = m.Count();
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        };
        h.Route("chat", "Ordered", "a", "b");
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(OneShot(), RouterHarness.For("chat"));

        Assert.Equal(2, seen);
    }

    private static IEnumerable<ChatMessage> OneShot()
    {
        yield return new ChatMessage(ChatRole.System, "sys");
        yield return new ChatMessage(ChatRole.User, "hi");
    }
}
