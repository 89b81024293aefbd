using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.Tests.Health;

public class LlmRouterStateTests
{
    private static TestChatClient Answering(string name) => new(name)
    {
        GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 1_000 },
        }),
    };

    [Fact]
    public async Task The_state_of_a_full_pipeline_has_routing_budgets_and_cache()
    {
        var services = new ServiceCollection();
        services.AddLlmRouter(r => r
            .AddDeployment("a", Answering("a"), d => d.Price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m })
            .AddRoute("chat", "a")
            .ConfigureResponseCache(_ => { })
            .ConfigureBudgets(b => b.Scopes.Add(new ScopePolicy { Scope = "team:search", Budgets = { new BudgetLimit { LimitUsd = 1m, Window = BudgetWindow.Day } } })));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        ChatOptions options = new ChatOptions { ModelId = "chat", MaxOutputTokens = 1_000 }.WithScopePath(new ScopePath("team:search"));

        await chat.GetResponseAsync("hello", options);
        await chat.GetResponseAsync("hello", options);
        LlmRouterState state = await chat.GetLlmRouterStateAsync();

        Assert.Equal(1, state.Router!.FindDeployment("a")!.SucceededAttempts);
        BudgetUsage team = Assert.Single(state.Budgets!);
        Assert.Equal(("team:search", 0.003m, 0.997m), (team.Account.Owner, team.SpentUsd, team.RemainingUsd));
        Assert.Equal((1L, 1L, 0.003m), (state.Cache!.Value.Hits, state.Cache.Value.Misses, state.Cache.Value.CostSavedUsd));
    }

    [Fact]
    public async Task Layers_the_pipeline_does_not_have_are_null()
    {
        using var router = new LlmRouterChatClient(new LlmRouterOptions { Deployments = { new DeploymentOptions { Name = "a", Client = Answering("a") } } });

        LlmRouterState state = await router.GetLlmRouterStateAsync();

        Assert.Equal(["a"], state.Router!.Deployments.Select(d => d.Name));
        Assert.Null(state.Budgets);
        Assert.Null(state.Cache);
    }
}
