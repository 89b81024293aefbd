using LlmRouter.Tests.Budgets;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.DependencyInjection;

/// <summary>The response cache and the budget layer turned on from configuration alone.</summary>
public class ConfiguredLayersTests
{
    private const string Json = """
    {
      "LlmRouter": {
        "Deployments": [ { "Name": "mini", "ClientKey": "openai", "ModelId": "gpt-4o-mini" } ],
        "ResponseCache": { "TimeToLive": "00:10:00" },
        "Budgets": {
          "DefaultMaxOutputTokens": 1000,
          "OnLedgerFailure": "FailOpen",
          "Scopes": [
            { "Scope": "team:search", "Budgets": [ { "Window": "Day", "LimitUsd": 0.0009 } ], "AllowedRoutes": [ "gpt-4o-mini" ] },
            { "Scope": "user:*", "RequestsPerMinute": 100 }
          ]
        }
      }
    }
    """;

    private static ServiceProvider Build(string json, TestChatClient provider)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddKeyedChatClient("openai", provider);
        services.AddLlmRouter(configuration.GetSection("LlmRouter"));
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Configuration_alone_puts_the_cache_over_the_budgets_over_the_router()
    {
        var provider = new TestChatClient("mini")
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                Usage = new UsageDetails { InputTokenCount = 1000, OutputTokenCount = 1000 },
            }),
        };
        await using ServiceProvider services = Build(Json, provider);
        IChatClient client = services.GetRequiredService<IChatClient>();
        ChatOptions Options() => new ChatOptions { ModelId = "gpt-4o-mini" }.WithScopePath(new ScopePath("team:search", "user:alice"));

        ChatResponse first = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], Options());
        ChatResponse hit = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], Options());

        // gpt-4o-mini at the catalogue's $0.15 / $0.60 per million: 1000 + 1000 tokens = $0.00075.
        Assert.Equal(0.00075m, first.GetCost()!.Usd);
        Assert.Equal(1, provider.Calls);
        Assert.Null(hit.GetCost());
        ResponseCacheChatClient cache = client.GetService<ResponseCacheChatClient>()!;
        Assert.Equal(0.00075m, cache.Statistics.CostSavedUsd);
        BudgetChatClient budgets = client.GetService<BudgetChatClient>()!;
        Assert.Equal(0.00075m, (await budgets.GetUsageAsync("team:search")).Single().SpentUsd);
        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "another")], Options()));
        await Assert.ThrowsAsync<PolicyViolationException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], Options().Also(o => o.ModelId = "mini")));
    }

    [Fact]
    public async Task Invalid_budget_configuration_fails_at_start_up_naming_the_keys()
    {
        string json = """
        {
          "LlmRouter": {
            "Deployments": [ { "Name": "homegrown", "ClientKey": "openai", "ModelId": "homegrown-7b" } ],
            "ResponseCache": { "TimeToLive": "-00:00:01" },
            "Budgets": { "Scopes": [ { "Scope": "team:search", "Budgets": [ { "Window": "Day", "LimitUsd": -1 } ], "DowngradeRoute": "cheap" } ] }
          }
        }
        """;

        List<OptionsValidationException> errors = await StartUpFailures(json);

        string[] failures = [.. errors.SelectMany(e => e.Failures)];
        Assert.Contains(failures, f => f.Contains("LlmRouter:ResponseCache:TimeToLive", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("LlmRouter:Budgets:Scopes:0 ('team:search'):Budgets:0:LimitUsd", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("DowngradeRoute 'cheap'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("('homegrown'):Price is missing", StringComparison.Ordinal));
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.OptionsType == typeof(BudgetOptions));
        Assert.Contains(errors, e => e.OptionsType == typeof(ResponseCacheOptions));
    }

    private static async Task<List<OptionsValidationException>> StartUpFailures(string json)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddKeyedChatClient("openai", new TestChatClient("x"));
        builder.Services.AddLlmRouter(configuration.GetSection("LlmRouter"));
        using IHost host = builder.Build();

        Exception? error = await Record.ExceptionAsync(() => host.StartAsync());

        // ValidateOnStart throws the one failing options type's exception, or an AggregateException of several.
        return error switch
        {
            OptionsValidationException single => [single],
            AggregateException several => [.. several.InnerExceptions.Cast<OptionsValidationException>()],
            _ => throw new InvalidOperationException("Start-up did not fail validation.", error),
        };
    }
}

public class CacheUnderBudgetPoliciesTests
{
    [Fact]
    public async Task A_cache_hit_still_passes_the_scope_policy_is_audited_and_costs_nothing()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Router.Route("smart", "Ordered", "a");
        h.Scope("user:alice", BudgetHarness.Usd(1m));
        h.Scope("user:bob").DeniedRoutes.Add("smart");
        BudgetChatClient budgets = h.Build();
        var services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        var cache = new ResponseCacheChatClient(budgets, services.GetRequiredService<Microsoft.Extensions.Caching.Hybrid.HybridCache>(), timeProvider: h.Router.Time);

        await cache.GetResponseAsync(BudgetHarness.Prompt, BudgetHarness.For("user:alice").Also(o => o.ModelId = "smart"));
        ChatResponse hit = await cache.GetResponseAsync(BudgetHarness.Prompt, BudgetHarness.For("user:alice").Also(o => o.ModelId = "smart"));
        await Assert.ThrowsAsync<PolicyViolationException>(() => cache.GetResponseAsync(BudgetHarness.Prompt, BudgetHarness.For("user:bob").Also(o => o.ModelId = "smart")));

        Assert.Equal(1, provider.Calls);
        Assert.Null(hit.GetCost());
        Assert.Null(hit.GetRoutingReport());
        Assert.Equal(0.001005m, (await h.UsageAsync(budgets, "user:alice")).Spent);
        Assert.Equal(0.001005m, cache.Statistics.CostSavedUsd);
        Assert.Equal([AuditDecision.Served, AuditDecision.CacheHit, AuditDecision.Denied], h.Audit.Records.Select(r => r.Decision));
        Assert.Equal(0.001005m, h.Audit.Records[1].CostSavedUsd);
    }
}
