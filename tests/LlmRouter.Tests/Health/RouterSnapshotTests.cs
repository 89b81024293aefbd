using LlmRouter.Tests.Budgets;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

public class RouterSnapshotTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Medium = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(400);

    private static string[] Order(RouteSnapshot route) => [.. route.Deployments.Select(d => d.Name)];

    private static RouteSnapshot Route(LlmRouterChatClient router, string name) => router.GetSnapshot().FindRoute(name)!;

    private static DeploymentSnapshot Deployment(LlmRouterChatClient router, string name) => router.GetSnapshot().FindDeployment(name)!;

    private static RouterHarness NoRandomness(RouterHarness h)
    {
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0;
        return h;
    }

    [Fact]
    public async Task Ranks_follow_measured_latency_after_successful_calls()
    {
        RouterHarness h = NoRandomness(new RouterHarness());
        h.Add("slow", Slow);
        h.Add("fast", Fast);
        h.Add("medium", Medium);
        h.Route("chat", "LowestLatency", "slow", "fast", "medium");
        using LlmRouterChatClient router = h.Build();

        RouteSnapshot before = Route(router, "chat");
        Assert.Equal(["slow", "fast", "medium"], Order(before));
        Assert.Null(Deployment(router, "fast").LatencyEstimate);

        await RouterHarness.Serve(router, 12, RouterHarness.For("chat"));
        RouterSnapshot snapshot = router.GetSnapshot();

        RouteSnapshot chat = snapshot.FindRoute("chat")!;
        Assert.Equal(["fast", "medium", "slow"], Order(chat));
        Assert.Equal([1, 2, 3], chat.Deployments.Select(d => d.Rank));
        Assert.All(chat.Deployments, d => Assert.True(d.IsAvailable));
        Assert.Equal(3, chat.AvailableCount);
        Assert.Equal(Fast, snapshot.FindDeployment("fast")!.LatencyEstimate);
        Assert.Equal(Medium, snapshot.FindDeployment("medium")!.LatencyEstimate);
        Assert.Equal(Slow, snapshot.FindDeployment("slow")!.LatencyEstimate);
        Assert.Null(snapshot.FindDeployment("fast")!.TimeToFirstTokenEstimate);
        Assert.Equal(12, snapshot.Deployments.Sum(d => d.SucceededAttempts));
        Assert.All(snapshot.Deployments, d => Assert.Equal(DeploymentStatus.Available, d.Status));

        // Rank 1 is what the router picks next.
        ChatResponse next = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        Assert.Equal("fast", next.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Streaming_calls_measure_time_to_first_token_separately()
    {
        var h = new RouterHarness();
        h.Add("a", TimeSpan.FromMilliseconds(300));
        using LlmRouterChatClient router = h.Build();

        for (int i = 0; i < 3; i++)
        {
            await foreach (ChatResponseUpdate _ in router.GetStreamingResponseAsync(RouterHarness.Prompt))
            {
            }
        }

        DeploymentSnapshot a = Deployment(router, "a");
        Assert.Equal(TimeSpan.FromMilliseconds(300), a.TimeToFirstTokenEstimate);
        Assert.Null(a.LatencyEstimate);
        Assert.Equal(3, a.SucceededAttempts);
    }

    [Fact]
    public async Task A_deployment_without_measurements_ranks_first_because_the_router_probes_it_first()
    {
        RouterHarness h = NoRandomness(new RouterHarness());
        h.Add("a", Fast);
        h.Add("b", Slow);
        h.Add("c", Medium);
        h.Route("measured", "LowestLatency", "a", "b");
        h.Route("all", "LowestLatency", "b", "a", "c");
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 6, RouterHarness.For("measured"));

        RouteSnapshot all = Route(router, "all");

        Assert.Equal(["c", "a", "b"], Order(all));
        ChatResponse next = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("all"));
        Assert.Equal("c", next.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Ordered_weighted_and_custom_routes_rank_without_calling_the_strategy()
    {
        RouterHarness h = NoRandomness(new RouterHarness());
        h.Add("slow", Slow, d => d.Weight = 1);
        h.Add("fast", Fast, d => d.Weight = 3);
        h.Add("medium", Medium, d => d.Weight = 2);
        h.Route("ordered", "Ordered", "slow", "fast", "medium");
        h.Route("weighted", "Weighted", "slow", "fast", "medium");
        h.Route("custom", "Reversed", "slow", "fast", "medium");
        var reversed = new ReversedStrategy();
        h.Options.Strategies["Reversed"] = reversed;
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 12, RouterHarness.For("ordered"));

        RouterSnapshot snapshot = router.GetSnapshot();

        Assert.Equal(["slow", "fast", "medium"], Order(snapshot.FindRoute("ordered")!));
        Assert.Equal(["fast", "medium", "slow"], Order(snapshot.FindRoute("weighted")!));
        Assert.Equal(["slow", "fast", "medium"], Order(snapshot.FindRoute("custom")!));
        Assert.Equal(0, reversed.Calls);

        // The strategy does run for requests (it reverses the order), just not for snapshots.
        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("custom"));
        Assert.Equal("medium", response.GetRoutingReport()!.Deployment);
        Assert.Equal(1, reversed.Calls);
    }

    [Fact]
    public async Task A_rate_limited_deployment_shows_its_cooldown_and_failure_count_then_recovers()
    {
        var h = new RouterHarness();
        TestChatClient limited = h.Add("limited");
        int calls = 0;
        limited.GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "20"))))
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        h.Add("spare");
        h.Route("chat", "Ordered", "limited", "spare");
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        DateTimeOffset failedAt = h.Time.GetUtcNow();
        h.Time.Advance(TimeSpan.FromSeconds(5));
        RouterSnapshot cooling = router.GetSnapshot();

        DeploymentSnapshot d = cooling.FindDeployment("limited")!;
        Assert.Equal(DeploymentStatus.CoolingDown, d.Status);
        Assert.False(d.IsAvailable);
        Assert.Equal(failedAt + TimeSpan.FromSeconds(20), d.CooldownUntil);
        Assert.Equal(CircuitState.Closed, d.CircuitState);
        Assert.Null(d.CircuitOpenUntil);
        Assert.Equal(1, d.FailedAttempts);
        Assert.Equal(0, d.SucceededAttempts);
        Assert.Equal(1.0, d.FailureRate, 9);
        RouteSnapshot chat = cooling.FindRoute("chat")!;
        Assert.Equal(1, chat.AvailableCount);
        Assert.Equal(
            [new RankedDeployment { Rank = 1, Name = "spare", IsAvailable = true }, new RankedDeployment { Rank = 2, Name = "limited", IsAvailable = false }],
            chat.Deployments);

        h.Time.Advance(TimeSpan.FromSeconds(15));
        RouterSnapshot recovered = router.GetSnapshot();

        Assert.Equal(DeploymentStatus.Available, recovered.FindDeployment("limited")!.Status);
        Assert.Null(recovered.FindDeployment("limited")!.CooldownUntil);
        Assert.Equal(["limited", "spare"], Order(recovered.FindRoute("chat")!));
        Assert.Equal(2, recovered.FindRoute("chat")!.AvailableCount);
        Assert.Equal("limited", (await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"))).GetRoutingReport()!.Deployment);
        Assert.Equal(1, Deployment(router, "limited").SucceededAttempts);
    }

    [Fact]
    public async Task A_failing_deployment_shows_its_open_circuit_until_the_break_ends_then_half_open_then_closed()
    {
        RouterHarness h = NoRandomness(new RouterHarness());
        TestChatClient flaky = TestChatClient.Throwing("flaky", () => Http.Status(500));
        h.Add("flaky", flaky);
        h.Add("spare", Fast);
        h.Route("chat", "LowestLatency", "spare", "flaky");
        h.Route("flaky-only", "Ordered", "flaky");
        h.Route("spare-only", "Ordered", "spare");
        h.Options.Health.ConsecutiveFailureThreshold = 3;
        h.Options.Health.BreakDuration = TimeSpan.FromSeconds(30);
        h.Options.Health.ProbesToClose = 1;
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 3, RouterHarness.For("spare-only"));
        for (int i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("flaky-only")));
        }

        DateTimeOffset openedAt = h.Time.GetUtcNow();

        h.Time.Advance(TimeSpan.FromSeconds(29));
        DeploymentSnapshot open = Deployment(router, "flaky");
        Assert.Equal(DeploymentStatus.CircuitOpen, open.Status);
        Assert.Equal(CircuitState.Open, open.CircuitState);
        Assert.Equal(openedAt + TimeSpan.FromSeconds(30), open.CircuitOpenUntil);
        Assert.Null(open.CooldownUntil);
        Assert.Equal(3, open.FailedAttempts);
        Assert.Equal(["spare", "flaky"], Order(Route(router, "chat")));

        // Break over: still open, but the next request that reaches it is its probe, first in line.
        h.Time.Advance(TimeSpan.FromSeconds(1));
        DeploymentSnapshot due = Deployment(router, "flaky");
        Assert.Equal(DeploymentStatus.Available, due.Status);
        Assert.Equal(CircuitState.Open, due.CircuitState);
        Assert.Null(due.CircuitOpenUntil);
        Assert.Equal(["flaky", "spare"], Order(Route(router, "chat")));

        var release = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        flaky.GetResponseAsyncCallback = (_, _, _) => release.Task;
        Task<ChatResponse> probe = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        DeploymentSnapshot probing = Deployment(router, "flaky");
        Assert.Equal(DeploymentStatus.CircuitHalfOpen, probing.Status);
        Assert.False(Route(router, "chat").Deployments.Single(d => d.Name == "flaky").IsAvailable);

        release.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "recovered")));
        Assert.Equal("flaky", (await probe).GetRoutingReport()!.Deployment);
        DeploymentSnapshot closed = Deployment(router, "flaky");
        Assert.Equal(DeploymentStatus.Available, closed.Status);
        Assert.Equal(CircuitState.Closed, closed.CircuitState);
        Assert.Equal((1, 3), (closed.SucceededAttempts, closed.FailedAttempts));
    }

    [Fact]
    public async Task A_deployment_out_of_budget_is_reported_until_its_window_resets()
    {
        var h = new BudgetHarness();
        h.Add("first", configure: d => d.Budgets.Add(BudgetHarness.Usd(0.002m)));
        h.Add("second");
        h.Router.Route("r", "Ordered", "first", "second");
        BudgetChatClient client = h.Build();
        LlmRouterChatClient router = client.GetService<LlmRouterChatClient>()!;
        for (int i = 0; i < 3; i++)
        {
            await client.GetResponseAsync(BudgetHarness.Prompt, new ChatOptions { ModelId = "r" });
        }

        RouterSnapshot spent = router.GetSnapshot();
        Assert.Equal(DeploymentStatus.OutOfBudget, spent.FindDeployment("first")!.Status);
        Assert.Equal(["second", "first"], Order(spent.FindRoute("r")!));
        Assert.Equal(1, spent.FindRoute("r")!.AvailableCount);

        h.Router.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(DeploymentStatus.Available, Deployment(router, "first").Status);
    }

    [Fact]
    public void Routes_are_the_configured_ones_with_their_fallback_chain_and_the_default()
    {
        var h = new RouterHarness();
        h.Add("a", configure: d => { d.ModelId = "m1"; d.Region = "eu"; });
        h.Add("b", configure: d => d.ModelId = "m1");
        h.Add("c", configure: d => d.ModelId = "m2");
        h.Route("fast", "Ordered", "a").Fallbacks.Add("smart");
        h.Route("smart", "Ordered", "c").Fallbacks.Add("backup");
        h.Route("backup", "Ordered", "b");
        using LlmRouterChatClient router = h.Build();

        RouterSnapshot snapshot = router.GetSnapshot();

        Assert.Equal(h.Time.GetUtcNow(), snapshot.TakenAt);
        Assert.Equal(["fast", "smart", "backup", "*"], snapshot.Routes.Select(r => r.Name)); // not the per-model-id routes m1, m2
        Assert.Null(snapshot.FindRoute("m1"));
        Assert.Equal(["*"], snapshot.Routes.Where(r => r.IsDefault).Select(r => r.Name));
        Assert.Equal(["smart", "backup"], snapshot.FindRoute("fast")!.Fallbacks);
        Assert.Empty(snapshot.FindRoute("backup")!.Fallbacks);
        Assert.Equal(["a", "b", "c"], Order(snapshot.FindRoute("*")!));
        Assert.Equal(["a", "b", "c"], snapshot.Deployments.Select(d => d.Name));
        Assert.Equal(("m1", "eu"), (snapshot.Deployments[0].ModelId, snapshot.Deployments[0].Region));

        h.Options.DefaultRoute = "smart";
        using LlmRouterChatClient withDefault = h.Build();
        RouterSnapshot configured = withDefault.GetSnapshot();
        Assert.Equal(["fast", "smart", "backup"], configured.Routes.Select(r => r.Name));
        Assert.Equal(["smart"], configured.Routes.Where(r => r.IsDefault).Select(r => r.Name));
    }

    [Fact]
    public async Task Taking_a_snapshot_changes_nothing()
    {
        static (RouterHarness, LlmRouterChatClient) Build()
        {
            var h = new RouterHarness();
            h.Options.LatencyRanking.ExplorationRate = 0.3;
            h.Options.LatencyRanking.LatencyBuffer = 0.5;
            h.Add("a", Fast);
            h.Add("b", TimeSpan.FromMilliseconds(120));
            h.Add("c", Slow);
            h.Route("latency", "LowestLatency", "a", "b", "c");
            h.Route("weighted", "Weighted", "a", "b", "c");
            return (h, h.Build());
        }

        (RouterHarness _, LlmRouterChatClient plain) = Build();
        (RouterHarness observedHarness, LlmRouterChatClient observed) = Build();
        using (plain)
        using (observed)
        {
            var plainServed = new List<string>();
            var observedServed = new List<string>();
            for (int i = 0; i < 40; i++)
            {
                ChatOptions options = RouterHarness.For(i % 3 == 0 ? "weighted" : "latency");
                plainServed.Add((await plain.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);

                RouterSnapshot first = observed.GetSnapshot();
                RouterSnapshot second = observed.GetSnapshot();
                Assert.Equal(first, second);
                Assert.NotSame(first, second);
                observedServed.Add((await observed.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
                Assert.NotEqual(first, observed.GetSnapshot());
            }

            Assert.Equal(plainServed, observedServed);
            Assert.True(plainServed.Distinct().Count() > 1, "the sequence should depend on the router's random draws");
            Assert.Equal(plain.GetSnapshot() with { TakenAt = default }, observed.GetSnapshot() with { TakenAt = default });
            Assert.Equal(40, observedHarness.Clients.Values.Sum(c => c.Calls));
        }
    }

    /// <summary>Ranks in reverse listed order and counts its calls.</summary>
    private sealed class ReversedStrategy : RankingStrategy
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override void Score(RankingContext context, Span<double> scores)
        {
            Interlocked.Increment(ref _calls);
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i] = -i;
            }
        }
    }
}
