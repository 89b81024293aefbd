using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

public class CircuitBreakerTests
{
    private bool _fail = true;

    private (RouterHarness Harness, TestChatClient Flaky, TestChatClient Spare) Setup(Action<HealthOptions>? health = null)
    {
        var h = new RouterHarness();
        TestChatClient flaky = h.Add("flaky");
        flaky.GetResponseAsyncCallback = (_, _, _) => _fail
            ? Task.FromException<ChatResponse>(Http.Status(500))
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "flaky ok")));
        TestChatClient spare = h.Add("spare");
        h.Route("chat", "Ordered", "flaky", "spare");
        h.Options.Health.BreakDuration = TimeSpan.FromSeconds(30);
        health?.Invoke(h.Options.Health);
        return (h, flaky, spare);
    }

    private static Task<ChatResponse> Send(IChatClient router) => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

    [Fact]
    public async Task Opens_after_consecutive_failures_and_stops_sending_traffic()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o => o.ConsecutiveFailureThreshold = 3);
        using LlmRouterChatClient router = h.Build();

        for (int i = 0; i < 3; i++)
        {
            await Send(router);
        }

        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);
        await Send(router);
        await Send(router);
        Assert.Equal(3, flaky.Calls);
    }

    [Fact]
    public async Task Opens_on_the_failure_ratio_over_the_window_once_throughput_is_reached()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o =>
        {
            o.ConsecutiveFailureThreshold = 100;
            o.MinimumThroughput = 10;
            o.FailureRatioThreshold = 0.5;
        });
        using LlmRouterChatClient router = h.Build();

        // Alternate: 5 successes and 5 failures = 50% over 10 attempts.
        for (int i = 0; i < 10; i++)
        {
            _fail = i % 2 == 1;
            await Send(router);
            Assert.Equal(i < 9 ? CircuitState.Closed : CircuitState.Open, router.Deployments[0].CircuitState);
        }

        Assert.Equal(10, flaky.Calls);
    }

    [Fact]
    public async Task Old_windows_do_not_count_towards_the_ratio()
    {
        (RouterHarness h, _, _) = Setup(o =>
        {
            o.ConsecutiveFailureThreshold = 100;
            o.MinimumThroughput = 4;
            o.SamplingDuration = TimeSpan.FromSeconds(10);
        });
        using LlmRouterChatClient router = h.Build();

        await Send(router);
        await Send(router);
        h.Time.Advance(TimeSpan.FromSeconds(11));
        _fail = false;
        await Send(router);
        await Send(router);
        _fail = true;
        await Send(router);

        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
    }

    [Fact]
    public async Task After_the_break_exactly_one_probe_is_admitted_and_success_closes()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o => { o.ConsecutiveFailureThreshold = 1; o.ProbesToClose = 1; });
        using LlmRouterChatClient router = h.Build();
        await Send(router);
        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);

        h.Time.Advance(TimeSpan.FromSeconds(29));
        await Send(router);
        Assert.Equal(1, flaky.Calls);

        // Hold the probe in flight: a concurrent request must not reach the half-open deployment.
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var release = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        flaky.GetResponseAsyncCallback = (_, _, _) => release.Task;
        Task<ChatResponse> probe = Send(router);
        Assert.Equal(CircuitState.HalfOpen, router.Deployments[0].CircuitState);
        ChatResponse concurrent = await Send(router);
        Assert.Equal("spare", concurrent.GetRoutingReport()!.Deployment);
        Assert.Equal(2, flaky.Calls);

        release.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "recovered")));
        Assert.Equal("flaky", (await probe).GetRoutingReport()!.Deployment);
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
    }

    [Fact]
    public async Task By_default_two_probes_in_a_row_must_succeed_before_the_circuit_closes()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o => o.ConsecutiveFailureThreshold = 1);
        using LlmRouterChatClient router = h.Build();
        Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, Task<ChatResponse>>? failing = flaky.GetResponseAsyncCallback;
        await Send(router);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        flaky.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "lucky")));

        Assert.Equal("flaky", (await Send(router)).GetRoutingReport()!.Deployment);   // first probe succeeds
        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);            // not closed yet, but probed again at once
        Assert.Equal("flaky", (await Send(router)).GetRoutingReport()!.Deployment);   // second probe succeeds
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);

        // A partial outage: the first probe is lucky, the second fails: open again for a full break.
        flaky.GetResponseAsyncCallback = failing;
        await Send(router);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        flaky.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "lucky")));
        await Send(router);
        flaky.GetResponseAsyncCallback = failing;
        await Send(router);
        int calls = flaky.Calls;
        h.Time.Advance(TimeSpan.FromSeconds(29));
        await Send(router);

        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);
        Assert.Equal(calls, flaky.Calls);
    }

    [Fact]
    public async Task A_failed_probe_reopens_for_another_break()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o => o.ConsecutiveFailureThreshold = 1);
        using LlmRouterChatClient router = h.Build();
        await Send(router);
        h.Time.Advance(TimeSpan.FromSeconds(30));

        await Send(router);

        Assert.Equal(2, flaky.Calls);
        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);
        h.Time.Advance(TimeSpan.FromSeconds(29));
        await Send(router);
        Assert.Equal(2, flaky.Calls);
    }

    [Fact]
    public async Task A_cancelled_probe_frees_the_slot_for_the_next_request()
    {
        (RouterHarness h, TestChatClient flaky, _) = Setup(o => { o.ConsecutiveFailureThreshold = 1; o.ProbesToClose = 1; });
        using LlmRouterChatClient router = h.Build();
        await Send(router);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        flaky.GetResponseAsyncCallback = async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new ChatResponse();
        };
        using var cts = new CancellationTokenSource();

        Task<ChatResponse> probe = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"), cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probe);

        _fail = false;
        flaky.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        ChatResponse next = await Send(router);
        Assert.Equal("flaky", next.GetRoutingReport()!.Deployment);
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
    }

    [Fact]
    public async Task The_circuit_and_cooldown_are_visible_on_the_deployment()
    {
        (RouterHarness h, _, _) = Setup(o => o.ConsecutiveFailureThreshold = 2);
        using LlmRouterChatClient router = h.Build();

        await Send(router);

        Deployment d = router.Deployments[0];
        Assert.Equal((0L, 1L), d.AttemptCounts);
        Assert.True(d.FailureRate > 0.99);
        Assert.Equal(CircuitState.Closed, d.CircuitState);
        Assert.Equal((1L, 0L), router.Deployments[1].AttemptCounts);
    }
}
