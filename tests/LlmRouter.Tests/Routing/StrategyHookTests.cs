using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// The public hooks of <see cref="RankingStrategy"/> (<see cref="RankingStrategy.SelectFirst"/>,
/// <see cref="RankingStrategy.LimitsColdProbes"/>, <see cref="RankingStrategy.RateLimitedOffset"/>) as a custom strategy
/// sees them through the router.
/// </summary>
public class StrategyHookTests
{
    private static Task<ChatResponse> Send(IChatClient router, string route = "chat") =>
        router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For(route));

    private static string[] Attempted(ChatResponse response) => [.. response.GetRoutingReport()!.Attempts.Select(a => a.Deployment)];

    [Fact]
    public async Task The_deployment_SelectFirst_chooses_is_called_first_and_failover_then_follows_the_scores()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        TestChatClient b = h.Add("b");
        TestChatClient c = h.Add("c");
        TestChatClient d = h.Add("d");
        c.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        a.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        var strategy = new Recording(byPosition: [3, 1, 0, 2], first: 0); // scores rank c, b, d, a; SelectFirst takes a
        h.Route("chat", "recording", "a", "b", "c", "d");
        h.Options.Strategies["recording"] = strategy;
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await Send(router);

        Assert.Equal(["a", "c", "b"], Attempted(response));
        Assert.Equal("b", response.GetRoutingReport()!.Deployment);
        Assert.Equal(0, d.Calls);
        Assert.Single(strategy.SelectFirstCalls); // once per request, not per failover
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(int.MaxValue)]
    public async Task SelectFirst_returning_an_index_out_of_range_fails_the_request_naming_the_strategy(int index)
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        TestChatClient b = h.Add("b");
        h.Route("chat", "broken", "a", "b");
        h.Route("fine", "Ordered", "a", "b");
        h.Options.Strategies["broken"] = new Recording(byPosition: [0, 1], first: index);
        using LlmRouterChatClient router = h.Build();

        Task<ChatResponse>? pending = null;
        Assert.Null(Record.Exception(() => { pending = Send(router); })); // the returned task fails, as with every other failure
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => pending!);

        Assert.Contains(nameof(Recording), error.Message, StringComparison.Ordinal);
        Assert.Contains($"returned {index} from SelectFirst", error.Message, StringComparison.Ordinal);
        Assert.Contains("0 to 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Calls + b.Calls);

        // The router is still usable: the failed request left no state behind.
        Assert.Equal("a", (await Send(router, "fine")).GetRoutingReport()!.Deployment);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    public async Task LimitsColdProbes_bounds_the_concurrent_requests_a_custom_strategy_sends_to_an_unmeasured_deployment(bool limits, int toCold)
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.MaxConcurrentColdProbes = 1;
        TestChatClient warm = h.Add("warm", TimeSpan.FromMilliseconds(100));
        TestChatClient cold = h.Add("cold");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cold.GetResponseAsyncCallback = async (_, _, _) =>
        {
            await gate.Task;
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "from cold"));
        };
        h.Route("chat", "unmeasured-first", "warm", "cold");
        h.Route("only-warm", "Ordered", "warm");
        h.Options.Strategies["unmeasured-first"] = new UnmeasuredFirst(limits);
        using LlmRouterChatClient router = h.Build();
        for (int i = 0; i < 4; i++)
        {
            await Send(router, "only-warm"); // latency data for "warm" only
        }

        // Three requests in flight at once: while "cold" holds the first, the others choose.
        Task<ChatResponse>[] inFlight = [Send(router), Send(router), Send(router)];
        int coldCalls = cold.Calls;
        int warmCalls = warm.Calls - 4;
        gate.SetResult();
        ChatResponse[] responses = await Task.WhenAll(inFlight);

        Assert.Equal(toCold, coldCalls);
        Assert.Equal(3 - toCold, warmCalls);
        Assert.Equal("cold", responses[0].GetRoutingReport()!.Deployment); // the unmeasured one is tried first either way
    }

    [Fact]
    public async Task SelectFirst_sees_the_rate_limited_offset_added_to_the_score_of_a_deployment_at_its_rate_limit()
    {
        var h = new RouterHarness();
        h.Add("limited", configure: d => d.RequestsPerMinute = 6); // a ten-second burst of 6 a minute: one request
        h.Add("other");
        var strategy = new Recording(byPosition: [1, 2], first: null);
        h.Route("chat", "recording", "limited", "other");
        h.Options.Strategies["recording"] = strategy;
        using LlmRouterChatClient router = h.Build();

        ChatResponse first = await Send(router);
        ChatResponse second = await Send(router);

        Assert.Equal([1, 2], strategy.SelectFirstCalls[0]);
        Assert.Equal([1 + RankingStrategy.RateLimitedOffset, 2], strategy.SelectFirstCalls[1]);
        Assert.Equal(["limited", "other"], [first.GetRoutingReport()!.Deployment, second.GetRoutingReport()!.Deployment]);
    }

    [Fact]
    public async Task A_NaN_score_reaches_SelectFirst_as_infinity_and_its_deployment_is_attempted_last()
    {
        var h = new RouterHarness();
        h.Add("nan");
        h.Add("second").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        h.Add("best").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        var strategy = new Recording(byPosition: [double.NaN, 2, 1], first: null);
        h.Route("chat", "recording", "nan", "second", "best");
        h.Options.Strategies["recording"] = strategy;
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await Send(router);

        Assert.Equal([double.PositiveInfinity, 2, 1], strategy.SelectFirstCalls[0]);
        Assert.Equal(["best", "second", "nan"], Attempted(response));
    }

    [Fact]
    public async Task SelectFirst_sees_only_the_eligible_deployments_and_the_request()
    {
        var h = new RouterHarness();
        h.Add("eu", configure: d => d.Region = "eu");
        h.Add("us", configure: d => d.Region = "us");
        h.Add("eu-2", configure: d => d.Region = "eu");
        var strategy = new Recording(byPosition: [0, 1], first: 1);
        h.Route("chat", "recording", "eu", "us", "eu-2");
        h.Options.Strategies["recording"] = strategy;
        using LlmRouterChatClient router = h.Build();
        ChatOptions options = RouterHarness.For("chat").WithRouteConstraints(new RouteConstraints { Regions = ["eu"] });

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, options))
        {
            updates.Add(u);
        }

        Assert.Equal(["eu", "eu-2"], strategy.Candidates.Single());
        Assert.Equal([true], strategy.Streaming);
        Assert.Equal("eu-2", updates[0].GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task The_documented_ExploringLatencyStrategy_measures_each_deployment_then_prefers_the_fastest()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        TestChatClient fast = Answering("fast", time, TimeSpan.FromMilliseconds(100));
        TestChatClient slow = Answering("slow", time, TimeSpan.FromMilliseconds(800));
        using LlmRouterChatClient router = LlmRouterChatClient.Create(
            builder => builder
                .AddDeployment("fast", fast)
                .AddDeployment("slow", slow)
                .AddRankingStrategy("ExploringLatency", new ExploringLatencyStrategy())
                .AddRoute("chat", r =>
                {
                    r.Strategy = "ExploringLatency";
                    r.Deployments.Add("slow");
                    r.Deployments.Add("fast");
                })
                .Configure(o => o.Random = new Random(3)),
            time);

        for (int i = 0; i < 10; i++)
        {
            await Send(router);
        }

        int fastBefore = fast.Calls;
        for (int i = 0; i < 100; i++)
        {
            await Send(router);
        }

        Assert.True(slow.Calls >= 1, "the slow deployment was never measured");
        Assert.InRange(fast.Calls - fastBefore, 90, 100); // one request in twenty explores, half of those to "slow"
    }

    private static TestChatClient Answering(string name, FakeTimeProvider time, TimeSpan latency)
    {
        return new TestChatClient(name)
        {
            GetResponseAsyncCallback = (_, _, _) =>
            {
                time.Advance(latency);
                return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {name}")));
            },
        };
    }

    /// <summary>Fixed scores by listed position; records what SelectFirst saw; returns <c>first</c> from it, or the default choice.</summary>
    private sealed class Recording(double[] byPosition, int? first) : RankingStrategy
    {
        private readonly Lock _gate = new();

        public List<double[]> SelectFirstCalls { get; } = [];

        public List<string[]> Candidates { get; } = [];

        public List<bool> Streaming { get; } = [];

        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < context.Candidates.Length; i++)
            {
                scores[i] = byPosition[i];
            }
        }

        protected override int SelectFirst(RankingContext context, ReadOnlySpan<double> scores)
        {
            lock (_gate)
            {
                SelectFirstCalls.Add(scores.ToArray());
                string[] names = new string[context.Candidates.Length];
                for (int i = 0; i < names.Length; i++)
                {
                    names[i] = context.Candidates[i].Name;
                }

                Candidates.Add(names);
                Streaming.Add(context.IsStreaming);
            }

            return first ?? base.SelectFirst(context, scores);
        }
    }

    /// <summary>Unmeasured deployments first (score 0), then by latency; bounded probes when asked.</summary>
    private sealed class UnmeasuredFirst(bool limitsColdProbes) : RankingStrategy
    {
        protected override bool LimitsColdProbes => limitsColdProbes;

        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < context.Candidates.Length; i++)
            {
                scores[i] = context.Candidates[i].GetLatencyEstimate(context.IsStreaming)?.TotalSeconds ?? 0;
            }
        }
    }

    // The example of docs/routing.md, "Custom strategies", word for word (keep the two in step).

    /// <summary>Fastest measured first, unmeasured deployments probed first, and one request in twenty explores.</summary>
    public sealed class ExploringLatencyStrategy : RankingStrategy
    {
        protected override bool LimitsColdProbes => true;

        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < context.Candidates.Length; i++)
            {
                // No estimate yet: score 0, so it is measured (one request at a time, LimitsColdProbes).
                scores[i] = context.Candidates[i].GetLatencyEstimate(context.IsStreaming)?.TotalSeconds ?? 0;
            }
        }

        protected override int SelectFirst(RankingContext context, ReadOnlySpan<double> scores)
        {
            if (scores.Length > 1 && context.Random.NextDouble() < 0.05)
            {
                int explored = context.Random.Next(scores.Length);
                if (scores[explored] < RateLimitedOffset)
                {
                    return explored;
                }
            }

            return base.SelectFirst(context, scores);
        }
    }
}
