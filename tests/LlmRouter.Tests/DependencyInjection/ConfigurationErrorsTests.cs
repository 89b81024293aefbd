using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.DependencyInjection;

/// <summary>
/// Configuration the binder cannot read (a value that does not convert, a key no setting has) fails start-up naming the
/// key, instead of vanishing: a budget dropped from a list must not let the application start without it.
/// </summary>
public class ConfigurationErrorsTests
{
    // Each case replaces one placeholder; the others keep their defaults, which make a valid configuration.
    private const string Template = """
    {
      "LlmRouter": {
        ROOT
        "Deployments": [ { "Name": "openai", "ClientKey": "openai", "ModelId": "gpt-4o-mini" DEPLOYMENT } ],
        "Routes": [ { "Name": "chat", "Deployments": [ "openai" ] ROUTE } ],
        "Health": { "BreakDuration": "00:00:30" HEALTH },
        "Budgets": {
          "Scopes": [ { "Scope": "team:search", "Budgets": [ { SCOPE_BUDGET } ] } ]
          BUDGETS
        },
        "ResponseCache": { CACHE }
      }
    }
    """;

    private static readonly Dictionary<string, string> Defaults = new()
    {
        ["ROOT"] = string.Empty,
        ["DEPLOYMENT"] = string.Empty,
        ["ROUTE"] = string.Empty,
        ["HEALTH"] = string.Empty,
        ["SCOPE_BUDGET"] = """ "Window": "Day", "LimitUsd": 1 """,
        ["BUDGETS"] = string.Empty,
        ["CACHE"] = """ "TimeToLive": "00:10:00" """,
    };

    private static IConfiguration Configuration(string placeholder, string fragment)
    {
        string json = Template;
        foreach ((string name, string value) in Defaults)
        {
            json = json.Replace(name, name == placeholder ? fragment : value, StringComparison.Ordinal);
        }

        return new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
    }

    private static async Task<string> StartUpFailure(IConfiguration configuration)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddKeyedChatClient("openai", new TestChatClient("openai"));
        builder.Services.AddLlmRouter(configuration.GetSection("LlmRouter"));
        using IHost host = builder.Build();

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        return string.Join("\n", e.Failures);
    }

    [Theory]
    [InlineData("SCOPE_BUDGET", """ "Window": "Daily", "LimitUsd": 1 """, "LlmRouter:Budgets:Scopes:0 ('team:search'):Budgets:0:Window is 'Daily': it must be one of Minute, Hour, Day, Week, Month, Total.")]
    [InlineData("SCOPE_BUDGET", """ "Window": "Day", "LimitUsd": "$5" """, "LlmRouter:Budgets:Scopes:0 ('team:search'):Budgets:0:LimitUsd is '$5': it must be a number such as 0.5")]
    [InlineData("DEPLOYMENT", """, "AttemptTimeout": "30s" """, "LlmRouter:Deployments:0 ('openai'):AttemptTimeout is '30s': it must be a time span such as 00:00:30")]
    [InlineData("DEPLOYMENT", """, "AttemptTimeout": "abc" """, "LlmRouter:Deployments:0 ('openai'):AttemptTimeout is 'abc': it must be a time span such as 00:00:30")]
    [InlineData("DEPLOYMENT", """, "Weight": "heavy" """, "LlmRouter:Deployments:0 ('openai'):Weight is 'heavy': it must be a number such as 0.5")]
    [InlineData("DEPLOYMENT", """, "Budgets": [ { "Window": "Daily", "LimitUsd": 5 } ] """, "LlmRouter:Deployments:0 ('openai'):Budgets:0:Window is 'Daily': it must be one of Minute, Hour, Day, Week, Month, Total.")]
    [InlineData("DEPLOYMENT", """, "ContextWindow": "128k" """, "LlmRouter:Deployments:0 ('openai'):ContextWindow is '128k': it must be a whole number such as 3")]
    [InlineData("DEPLOYMENT", """, "ZeroDataRetention": "yes" """, "LlmRouter:Deployments:0 ('openai'):ZeroDataRetention is 'yes': it must be true or false.")]
    [InlineData("ROUTE", """, "Hedging": { "MaxExtraAttempts": "two" } """, "LlmRouter:Routes:0 ('chat'):Hedging:MaxExtraAttempts is 'two': it must be a whole number such as 3")]
    [InlineData("ROOT", """ "FailureClassifier": { "StatusCodes": { "409": "Retry" } }, """, "LlmRouter:FailureClassifier:StatusCodes:409 is 'Retry': it must be one of ")]
    [InlineData("ROOT", """ "FailureClassifier": { "StatusCodes": { "Conflict": "Transient" } }, """, "LlmRouter:FailureClassifier:StatusCodes:Conflict is not a valid key: it must be a whole number such as 3")]
    [InlineData("ROOT", """ "MaxAttempts": "3 times", """, "LlmRouter:MaxAttempts is '3 times': it must be a whole number such as 3")]
    [InlineData("BUDGETS", """, "OnLedgerFailure": "Open" """, "LlmRouter:Budgets:OnLedgerFailure is 'Open': it must be one of FailClosed, FailOpen.")]
    [InlineData("CACHE", """ "TimeToLive": "1h" """, "LlmRouter:ResponseCache:TimeToLive is '1h': it must be a time span such as 00:00:30")]
    public async Task A_value_that_does_not_convert_fails_start_up_naming_the_key_and_what_is_valid(string placeholder, string fragment, string expected)
    {
        string failures = await StartUpFailure(Configuration(placeholder, fragment));

        Assert.Contains(expected, failures, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ROOT", """ "MaxAttemps": 2, """, "LlmRouter:MaxAttemps is not a setting (did you mean 'MaxAttempts'?)")]
    [InlineData("DEPLOYMENT", """, "Regoin": "eu" """, "LlmRouter:Deployments:0 ('openai'):Regoin is not a setting (did you mean 'Region'?)")]
    [InlineData("ROUTE", """, "Fallback": [ "x" ] """, "LlmRouter:Routes:0 ('chat'):Fallback is not a setting (did you mean 'Fallbacks'?)")]
    [InlineData("HEALTH", """, "CooldownSeconds": 5 """, "LlmRouter:Health:CooldownSeconds is not a setting: valid settings here are 'AttemptWhenAllUnavailable', 'BreakDuration'")]
    [InlineData("SCOPE_BUDGET", """ "Window": "Day", "Limit": 5 """, "LlmRouter:Budgets:Scopes:0 ('team:search'):Budgets:0:Limit is not a setting (did you mean 'LimitUsd'?)")]
    [InlineData("BUDGETS", """, "DefaultMaxOutputToken": 100 """, "LlmRouter:Budgets:DefaultMaxOutputToken is not a setting (did you mean 'DefaultMaxOutputTokens'?)")]
    [InlineData("CACHE", """ "Enable": false """, "LlmRouter:ResponseCache:Enable is not a setting (did you mean 'Enabled'?)")]
    public async Task An_unknown_key_fails_start_up_naming_it_and_the_settings_there_are(string placeholder, string fragment, string expected)
    {
        string failures = await StartUpFailure(Configuration(placeholder, fragment));

        Assert.Contains(expected, failures, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DEPLOYMENT", """, "Client": "openai" """, "LlmRouter:Deployments:0 ('openai'):Client cannot be set from configuration")]
    [InlineData("ROOT", """ "Random": { "Seed": 1 }, """, "LlmRouter:Random cannot be set from configuration")]
    [InlineData("CACHE", """ "Partition": "tenant" """, "LlmRouter:ResponseCache:Partition cannot be set from configuration")]
    [InlineData("DEPLOYMENT", """, "Tags": "vision" """, "LlmRouter:Deployments:0 ('openai'):Tags is 'vision': it must be a list")]
    [InlineData("ROOT", """ "LatencyRanking": "fast", """, "LlmRouter:LatencyRanking is 'fast': it must be a section of settings")]
    [InlineData("ROOT", """ "MaxAttempts": { "Value": 3 }, """, "LlmRouter:MaxAttempts is a section: it must be a single value")]
    public async Task A_key_of_the_wrong_shape_or_one_only_code_can_set_fails_start_up(string placeholder, string fragment, string expected)
    {
        string failures = await StartUpFailure(Configuration(placeholder, fragment));

        Assert.Contains(expected, failures, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_problem_of_a_section_is_reported_at_once()
    {
        IConfiguration configuration = Configuration("DEPLOYMENT", """, "Weight": "heavy", "Regoin": "eu", "Budgets": [ { "Window": "Daily", "LimitUsd": "$5" } ] """);

        string failures = await StartUpFailure(configuration);

        Assert.Equal(4, failures.Split('\n').Length);
    }

    [Fact]
    public void Without_a_host_the_client_fails_when_it_is_resolved_not_at_its_first_request()
    {
        var services = new ServiceCollection();
        services.AddKeyedChatClient("openai", new TestChatClient("openai"));
        services.AddLlmRouter(Configuration("SCOPE_BUDGET", """ "Window": "Daily", "LimitUsd": 1 """).GetSection("LlmRouter"));
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IChatClient>());

        Assert.Contains(e.Failures, f => f.Contains("Budgets:0:Window is 'Daily'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_valid_configuration_with_every_section_starts()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddKeyedChatClient("openai", new TestChatClient("openai"));
        builder.Services.AddLlmRouter(Configuration("ROOT", """ "maxattempts": 2, "LatencyRanking": { "HalfLife": "00:01:00" }, """).GetSection("LlmRouter"));
        using IHost host = builder.Build();

        await host.StartAsync();

        Assert.Equal(2, host.Services.GetRequiredService<IOptions<LlmRouterOptions>>().Value.MaxAttempts);
        Assert.Equal(BudgetWindow.Day, host.Services.GetRequiredService<IOptions<BudgetOptions>>().Value.Scopes[0].Budgets[0].Window);
        await host.StopAsync();
    }
}
