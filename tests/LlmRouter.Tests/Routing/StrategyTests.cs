using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class StrategyTests
{
    [Fact]
    public async Task Ordered_always_tries_the_list_order_first()
    {
        var h = new RouterHarness();
        h.Add("slow-primary", TimeSpan.FromSeconds(5));
        h.Add("fast-secondary", TimeSpan.FromMilliseconds(10));
        h.Route("chat", "Ordered", "slow-primary", "fast-secondary");
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 20, RouterHarness.For("chat"));

        Assert.Equal(20, served["slow-primary"]);
    }

    [Fact]
    public async Task Weighted_spreads_traffic_in_proportion_to_weight()
    {
        var h = new RouterHarness();
        h.Add("heavy", configure: d => d.Weight = 3);
        h.Add("light", configure: d => d.Weight = 1);
        h.Route("chat", "Weighted", "heavy", "light");
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 4000, RouterHarness.For("chat"));

        Assert.InRange(served["heavy"], 2850, 3150);
        Assert.InRange(served["light"], 850, 1150);
    }

    [Fact]
    public async Task Weighted_fails_over_to_the_other_deployments()
    {
        var h = new RouterHarness();
        h.Add("down", configure: d => d.Weight = 100).GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        h.Add("up", configure: d => d.Weight = 1);
        h.Route("chat", "Weighted", "down", "up");
        h.Options.Health.ConsecutiveFailureThreshold = 1000;
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 50, RouterHarness.For("chat"));

        Assert.Equal(50, served["up"]);
    }

    [Fact]
    public async Task A_custom_strategy_registered_by_name_ranks_the_route()
    {
        var h = new RouterHarness();
        h.Add("a");
        h.Add("b", configure: d => d.Tags.Add("preferred"));
        h.Route("chat", "prefer-tagged", "a", "b");
        h.Options.Strategies["prefer-tagged"] = new PreferTagged();
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 10, RouterHarness.For("chat"));

        Assert.Equal(10, served["b"]);
    }

    [Fact]
    public async Task A_custom_strategys_NaN_scores_rank_last_rather_than_being_skipped()
    {
        var h = new RouterHarness();
        h.Add("nan");
        h.Add("down").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        h.Route("chat", "nan-first", "nan", "down");
        h.Options.Strategies["nan-first"] = new NaNForFirst();
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(["down", "nan"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
    }

    private sealed class PreferTagged : RankingStrategy
    {
        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < context.Candidates.Length; i++)
            {
                scores[i] = context.Candidates[i].Tags.Contains("preferred") ? 0 : 1;
            }
        }
    }

    private sealed class NaNForFirst : RankingStrategy
    {
        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < context.Candidates.Length; i++)
            {
                scores[i] = i == 0 ? double.NaN : 1;
            }
        }
    }
}
