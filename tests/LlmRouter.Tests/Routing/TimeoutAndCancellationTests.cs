using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class TimeoutAndCancellationTests
{
    private static TestChatClient Hanging(RouterHarness h, string name, Action<DeploymentOptions>? configure = null)
    {
        TestChatClient client = h.Add(name, configure: configure);
        client.GetResponseAsyncCallback = async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new ChatResponse();
        };
        client.GetStreamingResponseAsyncCallback = (_, _, ct) => HangingStream(ct);
        return client;
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> HangingStream([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        yield break;
    }

    [Fact]
    public async Task An_attempt_that_exceeds_its_timeout_fails_over_and_counts_as_slow()
    {
        var h = new RouterHarness();
        Hanging(h, "hung", d => d.AttemptTimeout = TimeSpan.FromSeconds(10));
        h.Add("ok");
        h.Route("chat", "Ordered", "hung", "ok");
        using LlmRouterChatClient router = h.Build();

        Task<ChatResponse> pending = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.False(pending.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        ChatResponse response = await pending;

        RoutingReport report = response.GetRoutingReport()!;
        Assert.Equal("ok", report.Deployment);
        Assert.Equal(AttemptOutcome.TimedOut, report.Attempts[0].Outcome);
        Assert.Equal(TimeSpan.FromSeconds(10), report.Attempts[0].Duration);
        Assert.Equal(TimeSpan.FromSeconds(10), router.Deployments[0].GetLatencyEstimate(streaming: false));
        Assert.True(router.Deployments[0].FailureRate > 0.99);
    }

    [Fact]
    public async Task When_every_attempt_times_out_the_inner_error_is_a_TimeoutException()
    {
        var h = new RouterHarness();
        Hanging(h, "hung", d => d.AttemptTimeout = TimeSpan.FromSeconds(5));
        h.Route("chat", "Ordered", "hung");
        using LlmRouterChatClient router = h.Build();

        Task<ChatResponse> pending = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        h.Time.Advance(TimeSpan.FromSeconds(5));

        AllAttemptsFailedException e = await Assert.ThrowsAsync<AllAttemptsFailedException>(() => pending);
        Assert.IsType<TimeoutException>(e.InnerException);
    }

    [Fact]
    public async Task A_stream_whose_first_update_is_late_fails_over()
    {
        var h = new RouterHarness();
        Hanging(h, "slow-start", d => d.TimeToFirstTokenTimeout = TimeSpan.FromSeconds(2));
        h.Add("ok");
        h.Route("chat", "Ordered", "slow-start", "ok");
        using LlmRouterChatClient router = h.Build();

        await using IAsyncEnumerator<ChatResponseUpdate> e = router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")).GetAsyncEnumerator();
        ValueTask<bool> first = e.MoveNextAsync();
        Assert.False(first.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.True(await first);
        Assert.Equal("ok-0", e.Current.Text);
        Assert.Equal(AttemptOutcome.TimedOut, e.Current.GetRoutingReport()!.Attempts[0].Outcome);
    }

    [Fact]
    public async Task The_first_token_timeout_stops_once_the_first_update_arrives()
    {
        var h = new RouterHarness();
        TestChatClient slowBody = h.Add("slow-body", configure: d => d.TimeToFirstTokenTimeout = TimeSpan.FromSeconds(2));
        slowBody.GetStreamingResponseAsyncCallback = (_, _, ct) => h.DelayedStream("slow-body", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), ct);
        h.Add("ok");
        h.Route("chat", "Ordered", "slow-body", "ok");
        using LlmRouterChatClient router = h.Build();

        var texts = new List<string>();
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
        {
            texts.Add(u.Text);
        }

        Assert.Equal(["slow-body-0", "slow-body-1", "slow-body-2"], texts);
        Assert.Equal(0, h.Clients["ok"].Calls);
    }

    [Fact]
    public async Task Caller_cancellation_stops_at_once_without_failover_or_health_penalty()
    {
        var h = new RouterHarness();
        TestChatClient hung = Hanging(h, "hung");
        TestChatClient other = h.Add("other");
        h.Route("chat", "Ordered", "hung", "other");
        h.Options.Health.ConsecutiveFailureThreshold = 1;
        using LlmRouterChatClient router = h.Build();
        using var cts = new CancellationTokenSource();

        Task<ChatResponse> pending = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"), cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Equal(0, other.Calls);
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
        Assert.Equal((0L, 0L), router.Deployments[0].AttemptCounts);
        Assert.Equal(1, hung.Calls);
    }

    [Fact]
    public async Task Caller_cancellation_also_stops_a_stream_before_its_first_update()
    {
        var h = new RouterHarness();
        Hanging(h, "hung");
        TestChatClient other = h.Add("other");
        h.Route("chat", "Ordered", "hung", "other");
        using LlmRouterChatClient router = h.Build();
        using var cts = new CancellationTokenSource();

        IAsyncEnumerator<ChatResponseUpdate> e = router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"), cts.Token).GetAsyncEnumerator();
        ValueTask<bool> first = e.MoveNextAsync();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await first);
        Assert.Equal(0, other.Calls);
    }

    [Fact]
    public async Task An_already_cancelled_token_calls_no_provider()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        using LlmRouterChatClient router = h.Build();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => router.GetResponseAsync(RouterHarness.Prompt, cancellationToken: new CancellationToken(true)));
        Assert.Equal(0, a.Calls);
    }
}
