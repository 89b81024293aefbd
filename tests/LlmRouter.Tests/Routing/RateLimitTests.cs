using System.Net;
using LlmRouter.Tests.Telemetry;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace LlmRouter.Tests.Routing;

/// <summary>Declared provider rate limits (RequestsPerMinute, TokensPerMinute): a deployment at its limit ranks last.</summary>
public class RateLimitTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(30);

    /// <summary>"fast" (the better latency) with a limit, "slow" without; both measured first so ranking is by latency.</summary>
    private static async Task<(RouterHarness Harness, LlmRouterChatClient Router)> Warmed(Action<DeploymentOptions> limitFast)
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Add("fast", Fast, limitFast);
        h.Add("slow", Slow);
        h.Route("chat", "LowestLatency", "fast", "slow");
        h.Route("only-slow", "Ordered", "slow");
        LlmRouterChatClient router = h.Build();
        for (int i = 0; i < 4; i++)
        {
            await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("only-slow"));
        }
        return (h, router);
    }

    [Fact]
    public async Task A_deployment_at_its_requests_per_minute_ranks_after_those_with_room()
    {
        // 60 a minute: one a second, with a burst of ten seconds' worth.
        (RouterHarness h, LlmRouterChatClient router) = await Warmed(d => d.RequestsPerMinute = 60);
        using (router)
        {
            var served = new List<string>();
            for (int i = 0; i < 20; i++)
            {
                ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
                served.Add(response.GetRoutingReport()!.Deployment);
            }

            // Ten seconds' worth (10 requests) goes to "fast" at once; the 0.4 s the twenty calls take frees no more.
            int toFast = served.Count(d => d == "fast");
            Assert.Equal(10, toFast);
            Assert.All(served.Skip(10), d => Assert.Equal("slow", d));
            Assert.Equal(toFast, h.Clients["fast"].Calls);
        }
    }

    [Fact]
    public async Task Each_deferral_is_counted_by_route_and_deployment()
    {
        using var metrics = new RouterMetrics();
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Add("deferral-limited", Fast, d => d.RequestsPerMinute = 6); // ten seconds' burst: one request
        h.Add("deferral-other", Slow);
        h.Route("deferral-chat", "Ordered", "deferral-limited", "deferral-other");
        using LlmRouterChatClient router = h.Build();

        await RouterHarness.Serve(router, 5, RouterHarness.For("deferral-chat"));

        // The first request used the burst; the four after it found no room.
        IReadOnlyList<CollectedMeasurement<long>> deferrals = metrics.RateLimitDeferrals.Where("llmrouter.deployment", "deferral-limited");
        Assert.Equal(4, deferrals.Sum(m => m.Value));
        Assert.All(deferrals, m => Assert.Equal("deferral-chat", m.Tag("llmrouter.route")));
        Assert.Empty(metrics.RateLimitDeferrals.Where("llmrouter.deployment", "deferral-other"));
    }

    [Fact]
    public async Task The_rate_frees_up_as_time_passes()
    {
        (RouterHarness h, LlmRouterChatClient router) = await Warmed(d => d.RequestsPerMinute = 60);
        using (router)
        {
            await RouterHarness.Serve(router, 20, RouterHarness.For("chat"));
            Assert.True(router.Deployments.Single(d => d.Name == "fast").IsAtRateLimit);
            Assert.True(router.GetSnapshot().Deployments.Single(d => d.Name == "fast").IsAtRateLimit);

            h.Time.Advance(TimeSpan.FromSeconds(30));

            Assert.False(router.Deployments.Single(d => d.Name == "fast").IsAtRateLimit);
            ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
            Assert.Equal("fast", response.GetRoutingReport()!.Deployment);
        }
    }

    [Fact]
    public async Task Without_a_declared_limit_the_fastest_keeps_every_request()
    {
        (_, LlmRouterChatClient router) = await Warmed(_ => { });
        using (router)
        {
            Dictionary<string, int> served = await RouterHarness.Serve(router, 40, RouterHarness.For("chat"));

            Assert.Equal(40, served["fast"]);
            Assert.False(router.GetSnapshot().Deployments.Single(d => d.Name == "fast").IsAtRateLimit);
        }
    }

    [Fact]
    public async Task Exploration_never_picks_a_deployment_at_its_limit()
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0.5; // every other request explores a random deployment
        h.Add("limited", Fast, d => d.RequestsPerMinute = 6); // ten seconds' burst: one request
        h.Add("other", Slow);
        h.Route("chat", "LowestLatency", "limited", "other");
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 60, RouterHarness.For("chat"));

        // One request uses the burst; the 60 calls take well under the ten seconds another needs.
        Assert.Equal(1, served["limited"]);
        Assert.Equal(59, served["other"]);
    }

    [Fact]
    public async Task When_every_deployment_is_at_its_limit_they_are_still_tried_in_ranked_order()
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Add("a", Fast, d => d.RequestsPerMinute = 6);
        h.Add("b", Fast, d => d.RequestsPerMinute = 6);
        h.Route("chat", "Ordered", "a", "b");
        using LlmRouterChatClient router = h.Build();

        // Ten seconds' burst of 6 a minute is one request each; after that both are at their limit.
        var served = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
            served.Add(response.GetRoutingReport()!.Deployment);
        }

        Assert.Equal(["a", "b", "a", "a", "a", "a"], served);
    }

    [Fact]
    public async Task A_deployment_at_its_limit_is_still_a_failover_target()
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Add("primary", Fast);
        h.Add("limited", Fast, d => d.RequestsPerMinute = 6);
        h.Route("chat", "Ordered", "limited", "primary");
        using LlmRouterChatClient router = h.Build();
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")); // uses "limited"'s burst
        h.Clients["primary"].GetResponseAsyncCallback = (_, _, _) =>
            Task.FromException<ChatResponse>(new HttpRequestException("down", null, HttpStatusCode.ServiceUnavailable));

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(["primary", "limited"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
        Assert.Equal("limited", response.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_prompt_when_sent_and_the_output_when_reported()
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        TestChatClient limited = h.Add("limited", configure: d => d.TokensPerMinute = 6_000); // ten seconds' burst: 1,000 tokens
        h.SetLatency(limited, Fast, outputTokens: 300);
        h.Add("other", Fast);
        h.Route("chat", "Ordered", "limited", "other");
        using LlmRouterChatClient router = h.Build();
        ChatMessage[] prompt = [new(ChatRole.User, new string('x', 800))]; // about 200 tokens

        var served = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            ChatResponse response = await router.GetResponseAsync(prompt, RouterHarness.For("chat"));
            served.Add(response.GetRoutingReport()!.Deployment);
        }

        // 200 + 300 each: the second request still fits (500 used), the third does not (1,000 used plus 200).
        Assert.Equal(["limited", "limited", "other", "other"], served);

        // A request too large for the burst still goes to an idle quota.
        h.Time.Advance(TimeSpan.FromMinutes(1));
        ChatMessage[] huge = [new(ChatRole.User, new string('x', 40_000))];
        ChatResponse big = await router.GetResponseAsync(huge, RouterHarness.For("chat"));
        Assert.Equal("limited", big.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Streams_count_their_output_tokens_when_the_stream_ends()
    {
        var h = new RouterHarness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        TestChatClient limited = h.Add("limited", configure: d => d.TokensPerMinute = 6_000);
        limited.GetStreamingResponseAsyncCallback = (_, _, _) => UsageStream(800);
        h.Add("other", Fast);
        h.Route("chat", "Ordered", "limited", "other");
        using LlmRouterChatClient router = h.Build();

        // Ten seconds' burst of 6,000 a minute is 1,000 tokens: the first stream's 800 output tokens leave room for a
        // second request, whose 800 more leave none.
        var served = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            List<ChatResponseUpdate> updates = [];
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
            {
                updates.Add(u);
            }

            served.Add(updates[0].GetRoutingReport()!.Deployment);
        }

        Assert.Equal(["limited", "limited", "other"], served);

        static async IAsyncEnumerable<ChatResponseUpdate> UsageStream(long outputTokens)
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "hello");
            yield return new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { OutputTokenCount = outputTokens })] };
        }
    }
}
