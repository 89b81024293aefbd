using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class LatencyRankingTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(400);

    private static RouterHarness ThreeDeployments(double exploration = 0, double buffer = 0)
    {
        var h = new RouterHarness();
        h.Add("slow", Slow);
        h.Add("fast", Fast);
        h.Add("medium", TimeSpan.FromMilliseconds(250));
        h.Options.LatencyRanking.ExplorationRate = exploration;
        h.Options.LatencyRanking.LatencyBuffer = buffer;
        return h;
    }

    [Fact]
    public async Task Converges_on_the_fastest_deployment()
    {
        RouterHarness h = ThreeDeployments();
        using LlmRouterChatClient router = h.Build();

        await RouterHarness.Serve(router, 12); // warm-up: every deployment is probed while cold
        Dictionary<string, int> served = await RouterHarness.Serve(router, 100);

        Assert.Equal(100, served.GetValueOrDefault("fast"));
        Assert.Equal(Fast, router.Deployments[1].GetLatencyEstimate(streaming: false));
    }

    [Fact]
    public async Task Cold_deployments_are_each_measured_before_ranking_settles()
    {
        RouterHarness h = ThreeDeployments();
        h.Options.LatencyRanking.MinimumSamples = 2;
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 6);

        Assert.Equal(2, served["slow"]);
        Assert.Equal(2, served["fast"]);
        Assert.Equal(2, served["medium"]);
    }

    [Fact]
    public async Task Moves_off_a_deployment_that_degrades()
    {
        RouterHarness h = ThreeDeployments();
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 30);

        h.SetLatency(h.Clients["fast"], TimeSpan.FromSeconds(2));
        Dictionary<string, int> served = await RouterHarness.Serve(router, 50);

        Assert.True(served.GetValueOrDefault("fast") <= 2, $"fast served {served.GetValueOrDefault("fast")} after degrading");
        Assert.True(served.GetValueOrDefault("medium") >= 45);
    }

    [Fact]
    public async Task Exploration_finds_a_recovered_deployment_again()
    {
        RouterHarness h = ThreeDeployments(exploration: 0.1);
        h.Options.LatencyRanking.HalfLife = TimeSpan.FromSeconds(5);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 30);
        h.SetLatency(h.Clients["fast"], TimeSpan.FromSeconds(3));
        await RouterHarness.Serve(router, 40);

        h.SetLatency(h.Clients["fast"], Fast);
        await RouterHarness.Serve(router, 300);
        Dictionary<string, int> served = await RouterHarness.Serve(router, 100);

        Assert.True(served.GetValueOrDefault("fast") >= 85, $"fast served {served.GetValueOrDefault("fast")} of 100 after recovering");
    }

    [Fact]
    public async Task Without_exploration_nothing_but_the_best_is_tried()
    {
        RouterHarness h = ThreeDeployments(exploration: 0);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 12);
        int slowCalls = h.Clients["slow"].Calls;

        await RouterHarness.Serve(router, 200);

        Assert.Equal(slowCalls, h.Clients["slow"].Calls);
    }

    [Fact]
    public async Task Exploration_sends_about_its_share_elsewhere()
    {
        RouterHarness h = ThreeDeployments(exploration: 0.2);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 12);

        Dictionary<string, int> served = await RouterHarness.Serve(router, 1000);

        // 20% explore uniformly over 3 deployments: about 13% go to the two others.
        int elsewhere = 1000 - served.GetValueOrDefault("fast");
        Assert.InRange(elsewhere, 80, 200);
    }

    [Fact]
    public async Task Stale_statistics_make_a_deployment_cold_again_so_it_is_probed()
    {
        RouterHarness h = ThreeDeployments();
        h.Options.LatencyRanking.StaleAfter = TimeSpan.FromMinutes(1);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 20);
        int slowCalls = h.Clients["slow"].Calls;

        h.Time.Advance(TimeSpan.FromMinutes(2));
        await RouterHarness.Serve(router, 10);

        Assert.True(h.Clients["slow"].Calls > slowCalls);
    }

    [Fact]
    public async Task Old_samples_fade_with_the_half_life()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a", TimeSpan.FromSeconds(1));
        h.Options.LatencyRanking.HalfLife = TimeSpan.FromSeconds(10);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 5);

        h.Time.Advance(TimeSpan.FromSeconds(100));
        h.SetLatency(a, TimeSpan.FromSeconds(3));
        await RouterHarness.Serve(router, 1);

        // Ten half-lives later the five old 1 s samples weigh about 0.005 against the new 3 s sample.
        TimeSpan estimate = router.Deployments[0].GetLatencyEstimate(streaming: false)!.Value;
        Assert.InRange(estimate.TotalSeconds, 2.98, 3.0);
    }

    [Fact]
    public async Task Streams_rank_by_time_to_first_token()
    {
        var h = new RouterHarness();
        TestChatClient quickStart = h.Add("quick-start");
        quickStart.GetStreamingResponseAsyncCallback = (_, _, ct) => h.DelayedStream("quick-start", TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), ct);
        TestChatClient quickTotal = h.Add("quick-total");
        quickTotal.GetStreamingResponseAsyncCallback = (_, _, ct) => h.DelayedStream("quick-total", TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(10), ct);
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0;
        using LlmRouterChatClient router = h.Build();

        var served = new Dictionary<string, int>();
        for (int i = 0; i < 30; i++)
        {
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt))
            {
                if (u.GetRoutingReport() is { } report)
                {
                    served[report.Deployment] = served.GetValueOrDefault(report.Deployment) + 1;
                }
            }
        }

        Assert.True(served["quick-start"] >= 27, string.Join(", ", served));
        Assert.Equal(TimeSpan.FromMilliseconds(50), router.Deployments[0].GetLatencyEstimate(streaming: true));
        Assert.Null(router.Deployments[0].GetLatencyEstimate(streaming: false));
    }

    [Fact]
    public async Task Long_answers_are_normalised_to_the_reference_length()
    {
        var h = new RouterHarness();
        TestChatClient verbose = h.Add("verbose");
        h.SetLatency(verbose, TimeSpan.FromSeconds(8), outputTokens: 1024);
        TestChatClient terse = h.Add("terse");
        h.SetLatency(terse, TimeSpan.FromSeconds(1), outputTokens: 100);
        using LlmRouterChatClient router = h.Build();

        await RouterHarness.Serve(router, 6);

        // 8 s for 1,024 tokens counts as 8 x 256 / 1,024 = 2 s; 1 s for 100 tokens counts as measured.
        Assert.Equal(TimeSpan.FromSeconds(2), router.Deployments[0].GetLatencyEstimate(streaming: false));
        Assert.Equal(TimeSpan.FromSeconds(1), router.Deployments[1].GetLatencyEstimate(streaming: false));
    }

    [Fact]
    public async Task A_deployment_that_fails_often_ranks_as_slower()
    {
        var h = new RouterHarness();
        TestChatClient flaky = h.Add("flaky");
        int n = 0;
        flaky.GetResponseAsyncCallback = (_, _, _) =>
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(100));
            return Interlocked.Increment(ref n) % 2 == 0
                ? Task.FromException<ChatResponse>(Http.Status(503))
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        };
        h.Add("steady", TimeSpan.FromMilliseconds(150));
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0;
        h.Options.Health.ConsecutiveFailureThreshold = 1000;
        h.Options.Health.MinimumThroughput = 1000;
        using LlmRouterChatClient router = h.Build();

        await RouterHarness.Serve(router, 10);
        Dictionary<string, int> served = await RouterHarness.Serve(router, 50);

        // 100 ms at a 50% failure rate is an expected 200 ms to success: the steady 150 ms deployment wins.
        Assert.True(served.GetValueOrDefault("steady") >= 45, string.Join(", ", served));
    }

    [Fact]
    public async Task Near_ties_within_the_buffer_share_the_traffic()
    {
        var h = new RouterHarness();
        h.Add("a", TimeSpan.FromMilliseconds(100));
        h.Add("b", TimeSpan.FromMilliseconds(105));
        h.Add("c", TimeSpan.FromMilliseconds(300));
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0.10;
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 12);

        Dictionary<string, int> served = await RouterHarness.Serve(router, 400);

        Assert.InRange(served.GetValueOrDefault("a"), 120, 280);
        Assert.InRange(served.GetValueOrDefault("b"), 120, 280);
        Assert.Equal(0, served.GetValueOrDefault("c"));
    }

    [Fact]
    public async Task At_most_the_configured_number_of_requests_probe_a_cold_deployment_at_once()
    {
        var h = new RouterHarness();
        TestChatClient cold = h.Add("cold");
        var gate = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        cold.GetResponseAsyncCallback = (_, _, _) => gate.Task;
        TestChatClient warm = h.Add("warm", TimeSpan.FromMilliseconds(200));
        h.Route("warm-only", "Ordered", "warm");
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.MaxConcurrentColdProbes = 1;
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 5, RouterHarness.For("warm-only"));

        Task<ChatResponse> probe = router.GetResponseAsync(RouterHarness.Prompt);
        Dictionary<string, int> whileProbing = await RouterHarness.Serve(router, 20);

        Assert.Equal(1, cold.Calls);
        Assert.Equal(20, whileProbing["warm"]);
        gate.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "cold ok")));
        Assert.Equal("cold", (await probe).GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task One_slow_first_call_does_not_make_a_fast_deployment_look_slow()
    {
        var h = new RouterHarness();
        TestChatClient fast = h.Add("fast");
        int calls = 0;
        fast.GetResponseAsyncCallback = (_, _, _) =>
        {
            h.Time.Advance(Interlocked.Increment(ref calls) == 1 ? TimeSpan.FromSeconds(2) : TimeSpan.FromMilliseconds(20));
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        };
        h.Add("steady", TimeSpan.FromMilliseconds(100));
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0;
        using LlmRouterChatClient router = h.Build();

        await RouterHarness.Serve(router, 6);
        Dictionary<string, int> served = await RouterHarness.Serve(router, 20);

        // The first three samples (2 s, 20 ms, 20 ms) seed the mean with their median, 20 ms, not their mean, 680 ms.
        Assert.Equal(20, served.GetValueOrDefault("fast"));
        Assert.Equal(TimeSpan.FromMilliseconds(20), router.Deployments[0].GetLatencyEstimate(streaming: false));
    }

    [Fact]
    public async Task A_deployment_left_alone_until_its_evidence_decays_is_probed_again()
    {
        RouterHarness h = ThreeDeployments();
        h.Options.LatencyRanking.HalfLife = TimeSpan.FromSeconds(10);
        h.Options.LatencyRanking.StaleAfter = TimeSpan.FromHours(1);
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 12);
        int slowCalls = h.Clients["slow"].Calls;

        // Three samples weigh 1.5 after one half-life: below half the minimum, so "slow" is cold again and probed once,
        // once the router has also seen RequestsBeforeReprobe (20) requests since its last outcome.
        h.Time.Advance(TimeSpan.FromSeconds(5));
        await RouterHarness.Serve(router, 3);
        Assert.Equal(slowCalls, h.Clients["slow"].Calls);

        h.Time.Advance(TimeSpan.FromSeconds(6));
        await RouterHarness.Serve(router, 3);
        Assert.Equal(slowCalls, h.Clients["slow"].Calls); // faded with time, not yet with traffic

        await RouterHarness.Serve(router, 20);
        Assert.Equal(slowCalls + 1, h.Clients["slow"].Calls);
    }
}
