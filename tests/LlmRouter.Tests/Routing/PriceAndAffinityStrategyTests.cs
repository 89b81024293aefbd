using System.Net;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.Routing;

public class PriceAndAffinityStrategyTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(100);

    private static ModelPrice Price(decimal input, decimal output) => new() { InputPerMillion = input, OutputPerMillion = output };

    private static async Task Warm(IChatClient router, RouterHarness h, params string[] deployments)
    {
        // Each deployment answers a few requests on its own route, so the router has latency data for all of them.
        foreach (string d in deployments)
        {
            for (int i = 0; i < 4; i++)
            {
                await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For($"only-{d}"));
            }
        }
    }

    private static RouterHarness CostAwareHarness(TimeSpan? objective)
    {
        var h = new RouterHarness();
        h.Add("cheap-slow", TimeSpan.FromSeconds(3), d => d.Price = Price(0.10m, 0.40m));
        h.Add("mid", TimeSpan.FromMilliseconds(800), d => d.Price = Price(1m, 4m));
        h.Add("dear-fast", Fast, d => d.Price = Price(3m, 15m));
        h.Route("chat", "CostAware", "dear-fast", "mid", "cheap-slow").LatencyObjective = objective;
        foreach (string d in new[] { "cheap-slow", "mid", "dear-fast" })
        {
            h.Route($"only-{d}", "Ordered", d);
        }

        return h;
    }

    [Fact]
    public async Task Cost_aware_picks_the_cheapest_deployment_that_meets_the_latency_objective()
    {
        RouterHarness h = CostAwareHarness(TimeSpan.FromSeconds(1));
        using LlmRouterChatClient router = h.Build();
        await Warm(router, h, "cheap-slow", "mid", "dear-fast");

        Dictionary<string, int> served = await RouterHarness.Serve(router, 20, RouterHarness.For("chat"));

        Assert.Equal(20, served["mid"]);
    }

    [Fact]
    public async Task Cost_aware_without_an_objective_picks_the_cheapest_and_fails_over_by_price()
    {
        RouterHarness h = CostAwareHarness(objective: null);
        h.Clients["cheap-slow"].GetResponseAsyncCallback = (_, _, _) =>
            Task.FromException<ChatResponse>(new HttpRequestException("down", null, HttpStatusCode.ServiceUnavailable));
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal(["cheap-slow", "mid"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
    }

    [Fact]
    public async Task Price_weighted_splits_traffic_by_the_inverse_square_of_the_price()
    {
        var h = new RouterHarness();
        h.Add("one", Fast, d => d.Price = Price(1m, 1m));
        h.Add("two", Fast, d => d.Price = Price(2m, 2m));
        h.Route("chat", "PriceWeighted", "one", "two");
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 2_000, RouterHarness.For("chat"));

        // Weights 1 and 1/4: 80% and 20%.
        Assert.InRange(served["one"], 1_500, 1_700);
        Assert.InRange(served["two"], 300, 500);
    }

    private static RouterHarness WeightedHarness()
    {
        var h = new RouterHarness();
        h.Add("stable", Fast, d => d.Weight = 9);
        h.Add("canary", Fast, d => d.Weight = 1);
        h.Route("chat", "Weighted", "stable", "canary");
        return h;
    }

    private static ChatOptions Keyed(string key) => RouterHarness.For("chat").WithAffinityKey(key);

    [Fact]
    public async Task An_affinity_key_always_goes_to_the_same_deployment_and_keys_split_by_weight()
    {
        RouterHarness h = WeightedHarness();
        using LlmRouterChatClient router = h.Build();

        var first = new Dictionary<string, string>();
        for (int k = 0; k < 1_000; k++)
        {
            string key = $"user-{k}";
            first[key] = (await router.GetResponseAsync(RouterHarness.Prompt, Keyed(key))).GetRoutingReport()!.Deployment;
        }

        for (int k = 0; k < 1_000; k += 7)
        {
            string key = $"user-{k}";
            Assert.Equal(first[key], (await router.GetResponseAsync(RouterHarness.Prompt, Keyed(key))).GetRoutingReport()!.Deployment);
        }

        Assert.InRange(first.Values.Count(d => d == "canary"), 60, 140); // 10% of 1,000
    }

    [Fact]
    public async Task When_a_deployment_is_unavailable_only_its_keys_move_and_they_come_back()
    {
        RouterHarness h = WeightedHarness();
        h.Options.Health.RateLimitCooldown = TimeSpan.FromSeconds(30);
        using LlmRouterChatClient router = h.Build();
        string[] keys = [.. Enumerable.Range(0, 300).Select(k => $"conversation-{k}")];
        Dictionary<string, string> before = await Assign(router, keys);
        string[] canaryKeys = [.. keys.Where(k => before[k] == "canary")];

        // The canary is rate limited once: it cools down.
        TestChatClient canary = h.Clients["canary"];
        Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, Task<ChatResponse>>? answer = canary.GetResponseAsyncCallback;
        canary.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new HttpRequestException("slow down", null, HttpStatusCode.TooManyRequests));
        await router.GetResponseAsync(RouterHarness.Prompt, Keyed(canaryKeys[0]));
        canary.GetResponseAsyncCallback = answer;
        Dictionary<string, string> during = await Assign(router, keys);

        h.Time.Advance(TimeSpan.FromMinutes(1));
        Dictionary<string, string> after = await Assign(router, keys);

        Assert.NotEmpty(canaryKeys);
        Assert.All(keys, k => Assert.Equal("stable", during[k]));
        Assert.Equal(before, after);
    }

    private static async Task<Dictionary<string, string>> Assign(IChatClient router, string[] keys)
    {
        var assigned = new Dictionary<string, string>();
        foreach (string key in keys)
        {
            assigned[key] = (await router.GetResponseAsync(RouterHarness.Prompt, Keyed(key))).GetRoutingReport()!.Deployment;
        }

        return assigned;
    }

    [Fact]
    public async Task The_affinity_key_is_not_passed_to_the_provider()
    {
        RouterHarness h = WeightedHarness();
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, Keyed("alice"));

        ChatOptions received = h.Clients[response.GetRoutingReport()!.Deployment].LastOptions!;
        Assert.Null(received.GetAffinityKey());
    }

    [Fact]
    public void A_non_positive_latency_objective_fails_at_start_up()
    {
        RouterHarness h = CostAwareHarness(TimeSpan.Zero);

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => h.Build());

        Assert.Contains("LatencyObjective is 00:00:00", ex.Message, StringComparison.Ordinal);
    }
}
