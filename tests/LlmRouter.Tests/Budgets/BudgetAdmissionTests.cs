using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using static LlmRouter.Tests.Budgets.BudgetHarness;

namespace LlmRouter.Tests.Budgets;

/// <summary>How the budget layer turns requests away: typed errors, never thrown synchronously, before any provider call.</summary>
public class BudgetAdmissionTests
{
    [Fact]
    public async Task An_unknown_route_with_a_scope_path_is_an_UnknownRouteException()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a", configure: d => d.ModelId = "model-a");
        h.Scope("team:search", Usd(1m));
        BudgetChatClient client = h.Build();

        UnknownRouteException e = await Assert.ThrowsAsync<UnknownRouteException>(
            () => client.GetResponseAsync(Prompt, For("team:search").Also(o => o.ModelId = "modle-a")));

        Assert.Equal("modle-a", e.Route);
        Assert.Contains("model-a", e.KnownRoutes);
        Assert.Equal(0, provider.Calls);
        Assert.Equal((0m, 0m), await h.UsageAsync(client, "team:search"));
    }

    [Theory]
    [InlineData("budget")]
    [InlineData("policy")]
    [InlineData("route")]
    [InlineData("cap")]
    public async Task A_rejection_is_returned_as_a_faulted_task_never_thrown_by_the_call(string rejection)
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a", configure: d => d.ModelId = "model-a");
        ScopePolicy team = h.Scope("team:search", Usd(0.0001m));
        ChatOptions options = For("team:search");
        Type expected;
        switch (rejection)
        {
            case "budget":
                expected = typeof(BudgetExceededException);
                break;
            case "policy":
                team.AllowedRoutes.Add("model-a");
                options.ModelId = "model-b";
                expected = typeof(PolicyViolationException);
                break;
            case "route":
                options.ModelId = "model-b";
                expected = typeof(UnknownRouteException);
                break;
            default:
                options.MaxOutputTokens = 0;
                expected = typeof(ArgumentException);
                break;
        }

        BudgetChatClient client = h.Build();

        Task<ChatResponse>? pending = null;
        Exception? thrown = Record.Exception(() => { pending = client.GetResponseAsync(Prompt, options); });

        Assert.Null(thrown);
        Exception awaited = await Assert.ThrowsAnyAsync<Exception>(() => pending!);
        Assert.IsType(expected, awaited);
        Assert.Equal(0, provider.Calls);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task A_non_positive_output_cap_is_rejected_before_any_provider_call_however_many_requests_race(int maxOutputTokens)
    {
        var h = new BudgetHarness();

        // A provider that ignores the cap: every answer is 500 output tokens, about $0.001 at the harness's prices.
        TestChatClient provider = h.Add("a", inputTokens: 5, outputTokens: 500);
        h.Scope("team:search", Usd(0.002m));
        BudgetChatClient client = h.Build();

        Task<ChatResponse>[] requests = new Task<ChatResponse>[300];
        for (int i = 0; i < requests.Length; i++)
        {
            requests[i] = Task.Run(() => client.GetResponseAsync(Prompt, For("team:search").Also(o => o.MaxOutputTokens = maxOutputTokens)));
        }

        for (int i = 0; i < requests.Length; i++)
        {
            ArgumentException e = await Assert.ThrowsAsync<ArgumentException>(() => requests[i]);
            Assert.Contains("ChatOptions.MaxOutputTokens", e.Message, StringComparison.Ordinal);
            Assert.Contains("at least 1", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, provider.Calls);
        Assert.Equal((0m, 0m), await h.UsageAsync(client, "team:search"));
    }

    [Fact]
    public async Task A_non_positive_output_cap_fails_a_stream_at_its_first_read_and_an_unscoped_request_too()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        BudgetChatClient client = h.Build();

        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 0 }));
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = -5 }))
            {
                Assert.Fail($"The stream yielded '{update.Text}'.");
            }
        });
        Assert.Equal(0, provider.Calls);
    }

    [Fact]
    public async Task A_deployment_with_a_total_budget_stays_out_of_routing_once_it_is_spent()
    {
        var h = new BudgetHarness();
        h.Add("first", configure: d => d.Budgets.Add(Usd(0.002m, BudgetWindow.Total)));
        h.Add("second");
        h.Router.Route("r", "Ordered", "first", "second");
        BudgetChatClient client = h.Build();
        var options = new ChatOptions { ModelId = "r" };

        string[] served = new string[4];
        for (int i = 0; i < served.Length; i++)
        {
            served[i] = (await client.GetResponseAsync(Prompt, options)).GetRoutingReport()!.Deployment;
        }

        h.Router.Time.Advance(TimeSpan.FromDays(400));
        string afterAYear = (await client.GetResponseAsync(Prompt, options)).GetRoutingReport()!.Deployment;

        Assert.Equal(["first", "first", "second", "second"], served);
        Assert.Equal("second", afterAYear);
        LlmRouterChatClient router = client.GetService<LlmRouterChatClient>()!;
        Assert.True(router.Deployments[0].IsOutOfBudget);
        Assert.Equal(DeploymentStatus.OutOfBudget, router.GetSnapshot().FindDeployment("first")!.Status);
    }
}
