using LlmRouter.Health.Internal;
using LlmRouter.Routing.Internal;
using Microsoft.Extensions.Options;
using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter;

/// <summary>
/// Validates <see cref="LlmRouterOptions"/> as a whole and reports every problem at once, each naming the configuration
/// key that is wrong and what would be valid. Runs at start-up (<c>ValidateOnStart</c>) and in the router's constructor.
/// Composes the validators of the options it contains: <see cref="DeploymentOptionsValidator"/>,
/// <see cref="RouteOptionsValidator"/>, <see cref="LatencyRankingOptionsValidator"/> and <see cref="HealthOptionsValidator"/>.
/// </summary>
internal sealed class LlmRouterOptionsValidator : IValidateOptions<LlmRouterOptions>
{
    private const string S = RouterDefaults.ConfigurationSection;
    private readonly IServiceProvider? _services;

    public LlmRouterOptionsValidator(IServiceProvider? services = null)
    {
        _services = services;
    }

    public ValidateOptionsResult Validate(string? name, LlmRouterOptions options)
    {
        List<string> failures = Validate(options, _services);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static List<string> Validate(LlmRouterOptions options, IServiceProvider? services)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        HashSet<string> deploymentNames = DeploymentOptionsValidator.Validate(options.Deployments, services, failures);
        HashSet<string> routeNames = RouteOptionsValidator.Validate(options.Routes, options.Strategies.Keys, deploymentNames, failures);
        HashSet<string> modelRoutes = RouteOptionsValidator.ImplicitRoutes(options.Deployments, routeNames);
        if (options.DefaultRoute is { } def && !routeNames.Contains(def) && !modelRoutes.Contains(def))
        {
            failures.Add($"{S}:DefaultRoute '{def}' is not a route. Known routes: {Join(routeNames.Concat(modelRoutes))}; or leave it unset to use all deployments.");
        }

        if (options.MaxAttempts < 1)
        {
            failures.Add($"{S}:MaxAttempts is {options.MaxAttempts}: it must be at least 1 (default {RouterDefaults.MaxAttempts}).");
        }

        LatencyRankingOptionsValidator.Validate(options.LatencyRanking, $"{S}:LatencyRanking", failures);
        HealthOptionsValidator.Validate(options.Health, $"{S}:Health", failures);
        if (options.FailureClassifier is null)
        {
            failures.Add($"{S}:FailureClassifier is null: leave the default or set a FailureClassifier instance.");
        }

        DeploymentOptionsValidator.ValidateBudgets(options.Deployments, failures);
        return failures;
    }
}
