using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.Routing;

public class PrefixAffinityTests
{
    private static readonly string[] Names = ["a", "b", "c"];

    private static RouterHarness Harness(TimeSpan? slowC = null)
    {
        var h = new RouterHarness();
        h.Add("a", TimeSpan.FromMilliseconds(100));
        h.Add("b", TimeSpan.FromMilliseconds(100));
        h.Add("c", slowC ?? TimeSpan.FromMilliseconds(100));
        h.Route("chat", "LowestLatency", Names).PrefixAffinity = new PrefixAffinityOptions();
        return h;
    }

    private static ChatMessage[] Prompt(string document, string question) =>
        [new(ChatRole.System, document), new(ChatRole.User, question)];

    private static string Document(int n) => $"Document {n}: " + string.Concat(Enumerable.Repeat($"clause {n} of the contract; ", 300));

    private static async Task Warm(IChatClient router)
    {
        // Latency data for every deployment, so the ranking is measured and not probing.
        for (int i = 0; i < 30; i++)
        {
            await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        }
    }

    private static async Task<string> Served(IChatClient router, ChatMessage[] prompt) =>
        (await router.GetResponseAsync(prompt, RouterHarness.For("chat"))).GetRoutingReport()!.Deployment;

    [Fact]
    public async Task Requests_sharing_a_long_prefix_go_to_one_deployment_and_different_prefixes_spread()
    {
        RouterHarness h = Harness();
        using LlmRouterChatClient router = h.Build();
        await Warm(router);

        var homes = new List<string>();
        for (int doc = 0; doc < 30; doc++)
        {
            string home = await Served(router, Prompt(Document(doc), "first question"));
            for (int q = 0; q < 5; q++)
            {
                Assert.Equal(home, await Served(router, Prompt(Document(doc), $"question {q}")));
            }

            homes.Add(home);
        }

        Assert.Equal(3, homes.Distinct().Count());
        Assert.All(Names, n => Assert.InRange(homes.Count(x => x == n), 3, 20));
    }

    [Fact]
    public async Task A_deployment_slower_than_the_tolerance_loses_its_prefixes_to_their_next_choice()
    {
        RouterHarness h = Harness(slowC: TimeSpan.FromMilliseconds(400));
        using LlmRouterChatClient router = h.Build();
        await Warm(router);
        int before = h.Clients["c"].Calls;

        for (int doc = 0; doc < 30; doc++)
        {
            Assert.NotEqual("c", await Served(router, Prompt(Document(doc), "question")));
        }

        Assert.Equal(before, h.Clients["c"].Calls);
    }

    [Fact]
    public async Task A_prompt_shorter_than_the_minimum_prefix_is_ranked_as_usual()
    {
        RouterHarness h = Harness();
        h.Options.LatencyRanking.ExplorationRate = 0;
        using LlmRouterChatClient router = h.Build();
        await Warm(router);

        var served = new HashSet<string>();
        for (int i = 0; i < 60; i++)
        {
            served.Add(await Served(router, Prompt("You are terse.", $"question {i}")));
        }

        // Equally fast deployments are near-ties: short prompts spread over them.
        Assert.True(served.Count > 1);
    }

    [Fact]
    public void Invalid_prefix_affinity_fails_at_start_up()
    {
        RouterHarness h = Harness();
        h.Options.Routes[0].PrefixAffinity = new PrefixAffinityOptions { MinimumPrefixLength = 0, LatencyTolerance = -1 };

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => h.Build());

        Assert.Contains("PrefixAffinity:MinimumPrefixLength is 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PrefixAffinity:LatencyTolerance is -1", ex.Message, StringComparison.Ordinal);
    }
}
