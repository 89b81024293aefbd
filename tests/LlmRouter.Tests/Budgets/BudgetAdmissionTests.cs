using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using static LlmRouter.Tests.Budgets.BudgetHarness;

namespace LlmRouter.Tests.Budgets;

/// <summary>How the budget layer turns requests away: typed errors, never thrown synchronously, before any provider call.</summary>
public class BudgetAdmissionTests
{
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
