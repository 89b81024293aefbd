using LlmRouter.Tests.Budgets;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.DependencyInjection;

/// <summary>The response cache and the budget layer turned on from configuration alone, or by the builder in code.</summary>
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

    [Fact]
    public async Task Budgets_and_ResponseCache_sections_bind_their_own_options()
    {
        await using ServiceProvider services = Build(Json, new TestChatClient("mini"));

        BudgetOptions budgets = services.GetRequiredService<IOptions<BudgetOptions>>().Value;
        ResponseCacheOptions cache = services.GetRequiredService<IOptions<ResponseCacheOptions>>().Value;

        Assert.Equal(1000, budgets.DefaultMaxOutputTokens);
        Assert.Equal(LedgerFailureMode.FailOpen, budgets.OnLedgerFailure);
        Assert.Equal(["team:search", "user:*"], budgets.Scopes.Select(s => s.Scope));
        Assert.Equal(0.0009m, budgets.Scopes[0].Budgets.Single().LimitUsd);
        Assert.Equal(100, budgets.Scopes[1].RequestsPerMinute);
        Assert.True(cache.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(10), cache.TimeToLive);
    }

    [Theory]
    [InlineData(
        "\"Budgets\": { \"DefaultMaxOutputTokens\": 0 }",
        typeof(BudgetOptions),
        "LlmRouter:Budgets:DefaultMaxOutputTokens is 0: it must be a positive number of tokens (default 4096).")]
    [InlineData(
        "\"ResponseCache\": { \"TimeToLive\": \"00:00:00\" }",
        typeof(ResponseCacheOptions),
        "LlmRouter:ResponseCache:TimeToLive is 00:00:00: it must be positive (for example \"00:00:30\").")]
    public async Task A_bad_value_in_either_section_is_named_at_start_up(string section, Type optionsType, string failure)
    {
        string json = $$"""
        {
          "LlmRouter": {
            "Deployments": [ { "Name": "mini", "ClientKey": "openai", "ModelId": "gpt-4o-mini" } ],
            {{section}}
          }
        }
        """;

        OptionsValidationException error = Assert.Single(await StartUpFailures(json));

        Assert.Equal(optionsType, error.OptionsType);
        Assert.Equal([failure], error.Failures);
    }

    [Fact]
    public async Task Without_the_sections_neither_layer_is_added_and_a_disabled_cache_is_not_either()
    {
        string json = """
        {
          "LlmRouter": {
            "Deployments": [ { "Name": "mini", "ClientKey": "openai", "ModelId": "gpt-4o-mini" } ],
            "ResponseCache": { "Enabled": false }
          }
        }
        """;
        await using ServiceProvider bare = Build("""{ "LlmRouter": { "Deployments": [ { "Name": "mini", "ClientKey": "openai" } ] } }""", new TestChatClient("mini"));
        await using ServiceProvider disabled = Build(json, new TestChatClient("mini"));

        Assert.Same(bare.GetRequiredService<LlmRouterChatClient>(), bare.GetRequiredService<IChatClient>());
        Assert.Null(disabled.GetRequiredService<IChatClient>().GetService<ResponseCacheChatClient>());
    }

    [Fact]
    public async Task ConfigureBudgets_and_ConfigureResponseCache_turn_the_layers_on_in_code()
    {
        var provider = new TestChatClient("a");
        var services = new ServiceCollection();
        services.AddLlmRouter(r => r
            .AddDeployment("a", provider, d => d.ModelId = "gpt-4o-mini")
            .ConfigureBudgets(b => b.Scopes.Add(new ScopePolicy { Scope = "team:search", Budgets = { new BudgetLimit { LimitUsd = 1m, Window = BudgetWindow.Day } } }))
            .ConfigureResponseCache(c => c.TimeToLive = TimeSpan.FromMinutes(5)));
        await using ServiceProvider built = services.BuildServiceProvider();
        IChatClient client = built.GetRequiredService<IChatClient>();
        ChatOptions options = new ChatOptions { ModelId = "gpt-4o-mini" }.WithScopePath(new ScopePath("team:search"));

        await client.GetResponseAsync("hi", options);
        await client.GetResponseAsync("hi", options);

        Assert.Equal(1, provider.Calls);
        Assert.NotNull(client.GetService<ResponseCacheChatClient>());
        BudgetChatClient budgets = Assert.IsType<BudgetChatClient>(client.GetService<BudgetChatClient>());
        Assert.Single(await budgets.GetUsageAsync("team:search"));
        Assert.Equal(TimeSpan.FromMinutes(5), built.GetRequiredService<IOptions<ResponseCacheOptions>>().Value.TimeToLive);
    }

    [Fact]
    public async Task ConfigureResponseCache_with_Enabled_false_adds_no_cache()
    {
        var services = new ServiceCollection();
        services.AddLlmRouter(r => r.AddDeployment("a", new TestChatClient("a")).ConfigureResponseCache(c => c.Enabled = false));
        await using ServiceProvider built = services.BuildServiceProvider();

        Assert.Same(built.GetRequiredService<LlmRouterChatClient>(), built.GetRequiredService<IChatClient>());
    }

    [Fact]
    public async Task Code_configuration_applies_after_the_sections()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Json))).Build();
        var services = new ServiceCollection();
        services.AddKeyedChatClient("openai", new TestChatClient("mini"));
        services.AddLlmRouter(configuration.GetSection("LlmRouter"), r => r
            .ConfigureBudgets(b => b.DefaultMaxOutputTokens = 2000)
            .ConfigureResponseCache(c => c.Enabled = false));
        await using ServiceProvider built = services.BuildServiceProvider();
        IChatClient client = built.GetRequiredService<IChatClient>();

        BudgetOptions budgets = built.GetRequiredService<IOptions<BudgetOptions>>().Value;
        Assert.Equal(2000, budgets.DefaultMaxOutputTokens);
        Assert.Equal(2, budgets.Scopes.Count);
        Assert.NotNull(client.GetService<BudgetChatClient>());
        Assert.Null(client.GetService<ResponseCacheChatClient>());
    }

    [Fact]
    public async Task Budgets_configured_in_code_are_checked_against_the_routes_at_start_up()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLlmRouter(r => r
            .AddDeployment("a", new TestChatClient("a"), d => d.ModelId = "gpt-4o-mini")
            .ConfigureBudgets(b => b.Scopes.Add(new ScopePolicy { Scope = "team:search", DowngradeRoute = "nowhere" })));
        using IHost host = builder.Build();

        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(typeof(BudgetOptions), error.OptionsType);
        Assert.Equal(["LlmRouter:Budgets:Scopes:0 ('team:search'):DowngradeRoute 'nowhere' is not a route: use one of gpt-4o-mini."], error.Failures);
    }

    [Fact]
    public async Task A_deployment_budget_without_a_price_is_reported_once_with_the_router_options()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddLlmRouter(r => r
            .AddDeployment("homegrown", new TestChatClient("a"), d => d.Budgets.Add(new BudgetLimit { LimitUsd = 1m, Window = BudgetWindow.Day }))
            .ConfigureBudgets(b => b.Scopes.Add(new ScopePolicy { Scope = "team:search", Budgets = { new BudgetLimit { LimitUsd = 1m, Window = BudgetWindow.Day } } })));
        using IHost host = builder.Build();

        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(typeof(LlmRouterOptions), error.OptionsType);
        Assert.Single(error.Failures, f => f.Contains("('homegrown'):Price is missing", StringComparison.Ordinal));
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
