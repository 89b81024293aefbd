using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.DependencyInjection;

public class AddLlmRouterTests
{
    [Fact]
    public async Task Code_configuration_resolves_an_IChatClient_that_routes_and_chains_middleware()
    {
        var services = new ServiceCollection();
        var a = new TestChatClient("a");
        var b = new TestChatClient("b");
        ChatClientBuilder builder = services.AddLlmRouter(router => router
            .AddDeployment("a", a, d => d.ModelId = "model-a")
            .AddDeployment("b", _ => b)
            .AddRoute("chat", r => { r.Deployments.Add("a"); r.Strategy = "Ordered"; r.Fallbacks.Add("backup"); })
            .AddRoute("backup", "b"));
        builder.UseFunctionInvocation();
        await using ServiceProvider provider = services.BuildServiceProvider();

        IChatClient client = provider.GetRequiredService<IChatClient>();
        ChatResponse response = await client.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal("a", response.GetRoutingReport()!.Deployment);
        Assert.Equal("model-a", a.LastOptions!.ModelId);
        Assert.NotNull(client.GetService<FunctionInvokingChatClient>());
        Assert.Same(provider.GetRequiredService<LlmRouterChatClient>(), client.GetService<LlmRouterChatClient>());
    }

    [Fact]
    public async Task Configuration_binds_deployments_to_keyed_clients()
    {
        var json = """
        {
          "LlmRouter": {
            "DefaultRoute": "fast",
            "MaxAttempts": 2,
            "Deployments": [
              { "Name": "openai", "ClientKey": "openai-key", "ModelId": "gpt-4o-mini", "Region": "us", "AttemptTimeout": "00:00:30", "Tags": [ "vision" ] },
              { "Name": "azure", "ClientKey": "azure-key", "ModelId": "gpt-4o-mini", "Region": "eu", "ZeroDataRetention": true, "ContextWindow": 128000, "Weight": 2, "RequestsPerMinute": 500, "TokensPerMinute": 200000 }
            ],
            "Routes": [ { "Name": "fast", "Deployments": [ "azure", "openai" ], "Strategy": "Ordered", "MaxAttempts": 2 } ],
            "LatencyRanking": { "ExplorationRate": 0.05 },
            "Health": { "RateLimitCooldown": "00:00:09", "AttemptWhenAllUnavailable": true },
            "FailureClassifier": { "StatusCodes": { "409": "InvalidRequest" } }
          }
        }
        """;
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        var openai = new TestChatClient("openai");
        var azure = new TestChatClient("azure");
        services.AddKeyedChatClient("openai-key", openai);
        services.AddKeyedChatClient("azure-key", azure);
        services.AddLlmRouter(configuration.GetSection("LlmRouter"));
        await using ServiceProvider provider = services.BuildServiceProvider();

        LlmRouterOptions options = provider.GetRequiredService<IOptions<LlmRouterOptions>>().Value;
        ChatResponse response = await provider.GetRequiredService<IChatClient>().GetResponseAsync(RouterHarness.Prompt);

        Assert.Equal("azure", response.GetRoutingReport()!.Deployment);
        Assert.Equal(2, options.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Deployments[0].AttemptTimeout);
        Assert.Equal(["vision"], options.Deployments[0].Tags);
        Assert.True(options.Deployments[1].ZeroDataRetention);
        Assert.Equal(128000, options.Deployments[1].ContextWindow);
        Assert.Equal(2, options.Deployments[1].Weight);
        Assert.Equal(500, options.Deployments[1].RequestsPerMinute);
        Assert.Equal(200000, options.Deployments[1].TokensPerMinute);
        Assert.Equal(0.05, options.LatencyRanking.ExplorationRate);
        Assert.Equal(TimeSpan.FromSeconds(9), options.Health.RateLimitCooldown);
        Assert.True(options.Health.AttemptWhenAllUnavailable);
        Assert.Equal(FailureKind.InvalidRequest, options.FailureClassifier.StatusCodes[409]);
        Assert.Equal(FailureKind.RateLimited, options.FailureClassifier.StatusCodes[429]);
        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();
        Assert.Equal("eu", router.Deployments[1].Region);
        Assert.Contains("gpt-4o-mini", router.Routes);
    }

    [Fact]
    public async Task Invalid_configuration_fails_the_host_at_start_up_naming_every_problem()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddKeyedChatClient("known", new TestChatClient());
        builder.Services.AddLlmRouter(router => router
            .AddKeyedDeployment("a", "known")
            .AddKeyedDeployment("b", "missing-key")
            .AddKeyedDeployment("A", "known", d => d.Weight = 0)
            .AddRoute("r1", r => { r.Deployments.Add("a"); r.Fallbacks.Add("r2"); r.Fallbacks.Add("nowhere"); })
            .AddRoute("r2", r => { r.Deployments.Add("ghost"); r.Fallbacks.Add("r1"); r.Strategy = "Fastest"; }));
        using IHost host = builder.Build();

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        string all = string.Join("\n", e.Failures);
        Assert.Contains("ClientKey 'missing-key' is not a registered keyed IChatClient", all, StringComparison.Ordinal);
        Assert.Contains("Name 'A' is used by more than one deployment", all, StringComparison.Ordinal);
        Assert.Contains("Weight is 0", all, StringComparison.Ordinal);
        Assert.Contains("unknown deployment 'ghost'", all, StringComparison.Ordinal);
        Assert.Contains("unknown route 'nowhere'", all, StringComparison.Ordinal);
        Assert.Contains("fallback cycle 'r1' -> 'r2' -> 'r1'", all, StringComparison.Ordinal);
        Assert.Contains("Strategy 'Fastest' is unknown. Valid strategies: 'CostAware', 'LowestLatency', 'Ordered', 'PriceWeighted', 'Weighted'", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Factory_built_clients_are_disposed_with_the_router_and_instances_are_not()
    {
        var services = new ServiceCollection();
        var owned = new TestChatClient("owned");
        var shared = new TestChatClient("shared");
        services.AddLlmRouter(router => router.AddDeployment("owned", _ => owned).AddDeployment("shared", shared));
        ServiceProvider provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<IChatClient>();

        await provider.DisposeAsync();

        Assert.True(owned.Disposed);
        Assert.False(shared.Disposed);
    }

    [Fact]
    public async Task A_custom_strategy_can_be_registered_on_the_builder()
    {
        var services = new ServiceCollection();
        services.AddLlmRouter(router => router
            .AddDeployment("a", new TestChatClient("a"))
            .AddDeployment("b", new TestChatClient("b"))
            .AddRankingStrategy("last-first", new LastFirst())
            .AddRoute("chat", r => { r.Deployments.Add("a"); r.Deployments.Add("b"); r.Strategy = "last-first"; }));
        await using ServiceProvider provider = services.BuildServiceProvider();

        ChatResponse response = await provider.GetRequiredService<IChatClient>().GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal("b", response.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Create_builds_a_router_without_a_container_and_disposes_what_it_built()
    {
        var owned = new TestChatClient("owned");
        var shared = new TestChatClient("shared");
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        LlmRouterChatClient router = LlmRouterChatClient.Create(
            r => r.AddDeployment("owned", _ => owned).AddDeployment("shared", shared).AddRoute("chat", r => { r.Deployments.Add("shared"); r.Deployments.Add("owned"); r.Strategy = "Ordered"; }),
            time);

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat" });
        router.Dispose();
        router.Dispose();

        Assert.Equal("shared", response.GetRoutingReport()!.Deployment);
        Assert.True(owned.Disposed);
        Assert.False(shared.Disposed);
    }

    [Fact]
    public void Create_reports_invalid_configuration()
    {
        OptionsValidationException e = Assert.Throws<OptionsValidationException>(() => LlmRouterChatClient.Create(r => r.AddRoute("chat", "missing")));

        Assert.Contains(e.Failures, f => f.Contains("Deployments is empty", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("unknown deployment 'missing'", StringComparison.Ordinal));
    }

    private sealed class LastFirst : RankingStrategy
    {
        public override void Score(RankingContext context, Span<double> scores)
        {
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i] = -i;
            }
        }
    }
}
