using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.Options;

namespace LlmRouter.Tests.DependencyInjection;

public class OptionsValidationTests
{
    private static OptionsValidationException Invalid(LlmRouterOptions options) =>
        Assert.Throws<OptionsValidationException>(() => new LlmRouterChatClient(options));

    private static LlmRouterOptions Valid() => new() { Deployments = { new DeploymentOptions { Name = "a", Client = new TestChatClient() } } };

    [Fact]
    public void No_deployments_is_an_error()
    {
        Assert.Contains("LlmRouter:Deployments is empty", Invalid(new LlmRouterOptions()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deployment_needs_exactly_one_client_source()
    {
        var none = new LlmRouterOptions { Deployments = { new DeploymentOptions { Name = "a" } } };
        var two = new LlmRouterOptions { Deployments = { new DeploymentOptions { Name = "a", Client = new TestChatClient(), ClientKey = "k" } } };

        Assert.Contains("LlmRouter:Deployments:0 ('a'):ClientKey is missing", Invalid(none).Message, StringComparison.Ordinal);
        Assert.Contains("more than one client source", Invalid(two).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_and_factories_need_a_service_provider()
    {
        var keyed = new LlmRouterOptions { Deployments = { new DeploymentOptions { Name = "a", ClientKey = "k" } } };

        Assert.Contains("needs a service provider", Invalid(keyed).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("timeout")]
    [InlineData("ttft")]
    [InlineData("window")]
    [InlineData("weight")]
    [InlineData("rpm")]
    [InlineData("tpm")]
    public void Bad_deployment_values_name_the_key(string which)
    {
        LlmRouterOptions options = Valid();
        DeploymentOptions d = options.Deployments[0];
        string expected;
        switch (which)
        {
            case "timeout":
                d.AttemptTimeout = TimeSpan.Zero;
                expected = "LlmRouter:Deployments:0 ('a'):AttemptTimeout is 00:00:00: it must be positive";
                break;
            case "ttft":
                d.TimeToFirstTokenTimeout = TimeSpan.FromSeconds(-1);
                expected = "TimeToFirstTokenTimeout is -00:00:01";
                break;
            case "window":
                d.ContextWindow = 0;
                expected = "ContextWindow is 0";
                break;
            case "rpm":
                d.RequestsPerMinute = 0;
                expected = "LlmRouter:Deployments:0 ('a'):RequestsPerMinute is 0: it must be a positive number of requests per minute, or unset.";
                break;
            case "tpm":
                d.TokensPerMinute = -5;
                expected = "LlmRouter:Deployments:0 ('a'):TokensPerMinute is -5: it must be a positive number of tokens per minute, or unset.";
                break;
            default:
                d.Weight = double.NaN;
                expected = "Weight is NaN";
                break;
        }

        Assert.Contains(expected, Invalid(options).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AttemptTimeout")]
    [InlineData("TimeToFirstTokenTimeout")]
    [InlineData("Hedging:Delay")]
    public void A_timeout_longer_than_a_timer_can_wait_names_the_key_and_the_valid_range(string key)
    {
        LlmRouterOptions options = Valid();
        TimeSpan fiftyDays = TimeSpan.FromDays(50);
        string at = key == "Hedging:Delay" ? "LlmRouter:Routes:0 ('chat')" : "LlmRouter:Deployments:0 ('a')";
        options.Routes.Add(new RouteOptions { Name = "chat", Deployments = { "a" } });
        switch (key)
        {
            case "AttemptTimeout":
                options.Deployments[0].AttemptTimeout = fiftyDays;
                break;
            case "TimeToFirstTokenTimeout":
                options.Deployments[0].TimeToFirstTokenTimeout = fiftyDays;
                break;
            default:
                options.Routes[0].Hedging = new HedgingOptions { Delay = fiftyDays };
                break;
        }

        string failure = Assert.Single(Invalid(options).Failures);

        Assert.StartsWith($"{at}:{key} is 50.00:00:00: it must be ", failure, StringComparison.Ordinal);
        Assert.Contains("at most 49.17:02:47.2940000", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_longest_timeout_a_timer_can_wait_is_valid()
    {
        LlmRouterOptions options = Valid();
        TimeSpan longest = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
        options.Deployments[0].AttemptTimeout = longest;
        options.Deployments[0].TimeToFirstTokenTimeout = longest;
        options.Routes.Add(new RouteOptions { Name = "chat", Deployments = { "a" }, Hedging = new HedgingOptions { Delay = longest } });

        using var router = new LlmRouterChatClient(options);

        Assert.Equal(longest, router.Deployments[0].AttemptTimeout);
    }

    [Fact]
    public void Bad_router_values_are_all_reported_at_once()
    {
        LlmRouterOptions options = Valid();
        options.MaxAttempts = 0;
        options.DefaultRoute = "nope";
        options.LatencyRanking.ExplorationRate = 1.5;
        options.LatencyRanking.HalfLife = TimeSpan.Zero;
        options.Health.FailureRatioThreshold = 0;
        options.Health.BreakDuration = TimeSpan.Zero;

        OptionsValidationException e = Invalid(options);

        Assert.Equal(6, e.Failures.Count());
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:MaxAttempts is 0", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:DefaultRoute 'nope' is not a route", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:LatencyRanking:ExplorationRate is 1.5", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:LatencyRanking:HalfLife", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:Health:FailureRatioThreshold is 0", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("LlmRouter:Health:BreakDuration", StringComparison.Ordinal));
    }

    [Fact]
    public void A_route_without_deployments_and_a_duplicate_route_are_errors()
    {
        LlmRouterOptions options = Valid();
        options.Routes.Add(new RouteOptions { Name = "r" });
        options.Routes.Add(new RouteOptions { Name = "R", Deployments = { "a" } });

        OptionsValidationException e = Invalid(options);

        Assert.Contains(e.Failures, f => f.Contains("('r'):Deployments is empty", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Name 'R' is used by more than one route", StringComparison.Ordinal));
    }

    [Fact]
    public void A_model_id_route_may_be_the_default_route()
    {
        LlmRouterOptions options = Valid();
        options.Deployments[0].ModelId = "gpt-4o-mini";
        options.DefaultRoute = "gpt-4o-mini";

        using var router = new LlmRouterChatClient(options);

        Assert.Contains("gpt-4o-mini", router.Routes);
    }

    [Fact]
    public void A_self_fallback_is_a_cycle()
    {
        LlmRouterOptions options = Valid();
        options.Routes.Add(new RouteOptions { Name = "loop", Deployments = { "a" }, Fallbacks = { "loop" } });

        Assert.Contains("fallback cycle 'loop' -> 'loop'", Invalid(options).Message, StringComparison.Ordinal);
    }
}
