using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter.Routing.Internal;

/// <summary>Checks the <see cref="DeploymentOptions"/> of a router; each failure names its configuration key.</summary>
internal static class DeploymentOptionsValidator
{
    private const string S = RouterDefaults.ConfigurationSection;

    /// <summary>Checks every deployment except its budgets (<see cref="ValidateBudgets"/>) and returns the set of their names.</summary>
    public static HashSet<string> Validate(IList<DeploymentOptions> deployments, IServiceProvider? services, List<string> failures)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var keyed = services?.GetService<IServiceProviderIsKeyedService>();
        if (deployments.Count == 0)
        {
            failures.Add($"{S}:Deployments is empty: add at least one deployment (a provider IChatClient with a name).");
        }

        for (int i = 0; i < deployments.Count; i++)
        {
            DeploymentOptions d = deployments[i];
            string at = At(d, i);
            if (d is null)
            {
                failures.Add($"{at} is null.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(d.Name))
            {
                failures.Add($"{at}:Name is missing: every deployment needs a unique name.");
            }
            else if (!names.Add(d.Name))
            {
                failures.Add($"{at}:Name '{d.Name}' is used by more than one deployment: deployment names must be unique (case-insensitive).");
            }

            ValidateClientSource(d, at, services, keyed, failures);
            ValidateLimits(d, at, failures);
        }

        return names;
    }

    /// <summary>Checks each deployment's own budgets, and that a deployment with budgets has a price.</summary>
    public static void ValidateBudgets(IList<DeploymentOptions> deployments, List<string> failures)
    {
        var budgeted = new List<(string, ModelPrice?, int)>();
        for (int i = 0; i < deployments.Count; i++)
        {
            if (deployments[i] is { } d)
            {
                BudgetLimitChecks.ValidateLimits(d.Budgets, $"{S}:Deployments:{i}:Budgets", failures);
                budgeted.Add((d.Name, Price(d), d.Budgets.Count));
            }
        }

        BudgetLimitChecks.ValidatePrices(budgeted, anyScopeBudget: false, failures);
    }

    /// <summary>The deployment's price: its own, or the catalogue's for its model id.</summary>
    public static ModelPrice? Price(DeploymentOptions d) => d.Price ?? PriceCatalog.Default.Find(d.ModelId);

    private static string At(DeploymentOptions? d, int i) =>
        $"{S}:Deployments:{i}" + (string.IsNullOrWhiteSpace(d?.Name) ? string.Empty : $" ('{d.Name}')");

    private static void ValidateClientSource(DeploymentOptions d, string at, IServiceProvider? services, IServiceProviderIsKeyedService? keyed, List<string> failures)
    {
        int sources = (d.Client is null ? 0 : 1) + (d.ClientFactory is null ? 0 : 1) + (string.IsNullOrWhiteSpace(d.ClientKey) ? 0 : 1);
        if (sources == 0)
        {
            failures.Add($"{at}:ClientKey is missing: set ClientKey to the key of a keyed IChatClient service (AddKeyedChatClient), or pass a client instance or factory in code.");
        }
        else if (sources > 1)
        {
            failures.Add($"{at} has more than one client source (Client, ClientFactory, ClientKey): set exactly one.");
        }
        else if (!string.IsNullOrWhiteSpace(d.ClientKey))
        {
            if (services is null)
            {
                failures.Add($"{at}:ClientKey '{d.ClientKey}' needs a service provider: use AddLlmRouter, or pass a client instance when constructing the router directly.");
            }
            else if (keyed is not null && !keyed.IsKeyedService(typeof(IChatClient), d.ClientKey))
            {
                failures.Add($"{at}:ClientKey '{d.ClientKey}' is not a registered keyed IChatClient service: register it with services.AddKeyedChatClient(\"{d.ClientKey}\", ...).");
            }
        }
        else if (d.ClientFactory is not null && services is null)
        {
            failures.Add($"{at}:ClientFactory needs a service provider: use AddLlmRouter, or pass a client instance.");
        }
    }

    private static void ValidateLimits(DeploymentOptions d, string at, List<string> failures)
    {
        if (!(d.Weight > 0) || double.IsInfinity(d.Weight))
        {
            failures.Add($"{at}:Weight is {d.Weight}: it must be a positive finite number (default 1).");
        }

        CheckTimerDelay(failures, $"{at}:AttemptTimeout", d.AttemptTimeout);
        CheckTimerDelay(failures, $"{at}:TimeToFirstTokenTimeout", d.TimeToFirstTokenTimeout);
        if (d.RequestsPerMinute is <= 0)
        {
            failures.Add($"{at}:RequestsPerMinute is {d.RequestsPerMinute}: it must be a positive number of requests per minute, or unset.");
        }

        if (d.TokensPerMinute is <= 0)
        {
            failures.Add($"{at}:TokensPerMinute is {d.TokensPerMinute}: it must be a positive number of tokens per minute, or unset.");
        }

        if (d.ContextWindow is <= 0)
        {
            failures.Add($"{at}:ContextWindow is {d.ContextWindow}: it must be a positive number of tokens, or unset.");
        }
    }
}
