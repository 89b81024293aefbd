using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmRouter;

/// <summary>
/// Validates <see cref="LlmRouterOptions"/> as a whole and reports every problem at once, each naming the configuration
/// key that is wrong and what would be valid. Runs at start-up (<c>ValidateOnStart</c>) and in the router's constructor.
/// </summary>
internal sealed class LlmRouterOptionsValidator : IValidateOptions<LlmRouterOptions>
{
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
        const string S = RouterDefaults.ConfigurationSection;
        var failures = new List<string>();
        var deploymentNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var keyed = services?.GetService<IServiceProviderIsKeyedService>();

        if (options.Deployments.Count == 0)
        {
            failures.Add($"{S}:Deployments is empty: add at least one deployment (a provider IChatClient with a name).");
        }

        for (int i = 0; i < options.Deployments.Count; i++)
        {
            DeploymentOptions d = options.Deployments[i];
            string at = $"{S}:Deployments:{i}" + (string.IsNullOrWhiteSpace(d?.Name) ? string.Empty : $" ('{d.Name}')");
            if (d is null)
            {
                failures.Add($"{at} is null.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(d.Name))
            {
                failures.Add($"{at}:Name is missing: every deployment needs a unique name.");
            }
            else if (!deploymentNames.Add(d.Name))
            {
                failures.Add($"{at}:Name '{d.Name}' is used by more than one deployment: deployment names must be unique (case-insensitive).");
            }

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

            if (!(d.Weight > 0) || double.IsInfinity(d.Weight))
            {
                failures.Add($"{at}:Weight is {d.Weight}: it must be a positive finite number (default 1).");
            }

            CheckPositive(failures, $"{at}:AttemptTimeout", d.AttemptTimeout);
            CheckPositive(failures, $"{at}:TimeToFirstTokenTimeout", d.TimeToFirstTokenTimeout);
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

        var strategyNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { RouterDefaults.LowestLatency, RouterDefaults.Ordered, RouterDefaults.Weighted, RouterDefaults.CostAware, RouterDefaults.PriceWeighted };
        foreach (string custom in options.Strategies.Keys)
        {
            strategyNames.Add(custom);
        }

        var routeNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < options.Routes.Count; i++)
        {
            RouteOptions r = options.Routes[i];
            string at = $"{S}:Routes:{i}" + (string.IsNullOrWhiteSpace(r?.Name) ? string.Empty : $" ('{r.Name}')");
            if (r is null)
            {
                failures.Add($"{at} is null.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(r.Name))
            {
                failures.Add($"{at}:Name is missing: every route needs a unique name (the value callers put in ChatOptions.ModelId).");
            }
            else if (!routeNames.Add(r.Name))
            {
                failures.Add($"{at}:Name '{r.Name}' is used by more than one route: route names must be unique (case-insensitive).");
            }

            if (r.Deployments.Count == 0)
            {
                failures.Add($"{at}:Deployments is empty: list at least one deployment name.");
            }

            foreach (string dn in r.Deployments)
            {
                if (!deploymentNames.Contains(dn ?? string.Empty))
                {
                    failures.Add($"{at}:Deployments names unknown deployment '{dn}'. Known deployments: {Join(deploymentNames)}.");
                }
            }

            if (r.PrefixAffinity is { } affinity)
            {
                if (affinity.MinimumPrefixLength < 1)
                {
                    failures.Add($"{at}:PrefixAffinity:MinimumPrefixLength is {affinity.MinimumPrefixLength}: it must be at least 1 character.");
                }

                if (affinity.LatencyTolerance is < 0 or double.NaN)
                {
                    failures.Add($"{at}:PrefixAffinity:LatencyTolerance is {affinity.LatencyTolerance}: it must be 0 or more (0.5 for up to 50% slower).");
                }
            }

            if (r.Hedging is { } hedging)
            {
                if (hedging.Delay is null && hedging.DelayPercentile is null)
                {
                    failures.Add($"{at}:Hedging needs Delay, DelayPercentile or both: when to start the hedge.");
                }

                if (hedging.Delay is { } delay && delay < TimeSpan.Zero)
                {
                    failures.Add($"{at}:Hedging:Delay is {delay}: it must not be negative.");
                }

                if (hedging.DelayPercentile is { } percentile && percentile is not (> 0 and < 1))
                {
                    failures.Add($"{at}:Hedging:DelayPercentile is {percentile}: it must be between 0 and 1, exclusive (0.9 for the 90th percentile).");
                }

                if (hedging.MaxExtraAttempts < 1)
                {
                    failures.Add($"{at}:Hedging:MaxExtraAttempts is {hedging.MaxExtraAttempts}: it must be at least 1.");
                }

                if (hedging.MaxHedgedShare is not (> 0 and <= 1))
                {
                    failures.Add($"{at}:Hedging:MaxHedgedShare is {hedging.MaxHedgedShare}: it must be above 0 and at most 1.");
                }
            }

            if (r.LatencyObjective is { } objective && objective <= TimeSpan.Zero)
            {
                failures.Add($"{at}:LatencyObjective is {objective}: it must be positive, or unset.");
            }

            if (!strategyNames.Contains(r.Strategy ?? string.Empty))
            {
                failures.Add($"{at}:Strategy '{r.Strategy}' is unknown. Valid strategies: {Join(strategyNames)}.");
            }

            if (r.MaxAttempts is < 1)
            {
                failures.Add($"{at}:MaxAttempts is {r.MaxAttempts}: it must be at least 1, or unset.");
            }
        }

        for (int i = 0; i < options.Routes.Count; i++)
        {
            RouteOptions r = options.Routes[i];
            if (r is null)
            {
                continue;
            }

            foreach (string f in r.Fallbacks)
            {
                if (!routeNames.Contains(f ?? string.Empty))
                {
                    failures.Add($"{S}:Routes:{i} ('{r.Name}'):Fallbacks names unknown route '{f}'. Known routes: {Join(routeNames)}.");
                }
            }

            if (r.ContentPolicyFallback is { } contentFallback && (!routeNames.Contains(contentFallback) || string.Equals(contentFallback, r.Name, StringComparison.OrdinalIgnoreCase)))
            {
                failures.Add($"{S}:Routes:{i} ('{r.Name}'):ContentPolicyFallback names '{contentFallback}': it must be another configured route. Known routes: {Join(routeNames)}.");
            }
        }

        foreach (string cycle in FindCycles(options.Routes))
        {
            failures.Add($"{S}:Routes: fallback cycle {cycle}: a route must not fall back to itself, directly or through other routes.");
        }

        var modelRoutes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (DeploymentOptions d in options.Deployments)
        {
            if (d?.ModelId is { } model && !routeNames.Contains(model))
            {
                modelRoutes.Add(model);
            }
        }

        if (options.DefaultRoute is { } def && !routeNames.Contains(def) && !modelRoutes.Contains(def))
        {
            failures.Add($"{S}:DefaultRoute '{def}' is not a route. Known routes: {Join(routeNames.Concat(modelRoutes))}; or leave it unset to use all deployments.");
        }

        if (options.MaxAttempts < 1)
        {
            failures.Add($"{S}:MaxAttempts is {options.MaxAttempts}: it must be at least 1 (default {RouterDefaults.MaxAttempts}).");
        }

        LatencyRankingOptions lr = options.LatencyRanking;
        CheckPositive(failures, $"{S}:LatencyRanking:HalfLife", lr.HalfLife);
        CheckPositive(failures, $"{S}:LatencyRanking:StaleAfter", lr.StaleAfter);
        if (lr.MinimumSamples < 1)
        {
            failures.Add($"{S}:LatencyRanking:MinimumSamples is {lr.MinimumSamples}: it must be at least 1.");
        }

        if (!(lr.ExplorationRate is >= 0 and <= 1))
        {
            failures.Add($"{S}:LatencyRanking:ExplorationRate is {lr.ExplorationRate}: it must be between 0 and 1.");
        }

        if (!(lr.LatencyBuffer >= 0) || double.IsInfinity(lr.LatencyBuffer))
        {
            failures.Add($"{S}:LatencyRanking:LatencyBuffer is {lr.LatencyBuffer}: it must be 0 or a positive fraction (0.1 = 10%).");
        }

        if (lr.ReferenceOutputTokens < 1)
        {
            failures.Add($"{S}:LatencyRanking:ReferenceOutputTokens is {lr.ReferenceOutputTokens}: it must be at least 1.");
        }

        if (lr.MaxConcurrentColdProbes < 1)
        {
            failures.Add($"{S}:LatencyRanking:MaxConcurrentColdProbes is {lr.MaxConcurrentColdProbes}: it must be at least 1.");
        }

        HealthOptions h = options.Health;
        CheckPositive(failures, $"{S}:Health:RateLimitCooldown", h.RateLimitCooldown, allowZero: true);
        CheckPositive(failures, $"{S}:Health:MisconfiguredCooldown", h.MisconfiguredCooldown, allowZero: true);
        CheckPositive(failures, $"{S}:Health:MaxCooldown", h.MaxCooldown, allowZero: true);
        CheckPositive(failures, $"{S}:Health:SamplingDuration", h.SamplingDuration);
        CheckPositive(failures, $"{S}:Health:BreakDuration", h.BreakDuration);
        if (h.ProbesToClose < 1)
        {
            failures.Add($"{S}:Health:ProbesToClose is {h.ProbesToClose}: it must be at least 1.");
        }

        if (h.ConsecutiveFailureThreshold < 1)
        {
            failures.Add($"{S}:Health:ConsecutiveFailureThreshold is {h.ConsecutiveFailureThreshold}: it must be at least 1.");
        }

        if (!(h.FailureRatioThreshold is > 0 and <= 1))
        {
            failures.Add($"{S}:Health:FailureRatioThreshold is {h.FailureRatioThreshold}: it must be greater than 0 and at most 1.");
        }

        if (h.MinimumThroughput < 1)
        {
            failures.Add($"{S}:Health:MinimumThroughput is {h.MinimumThroughput}: it must be at least 1.");
        }

        if (options.FailureClassifier is null)
        {
            failures.Add($"{S}:FailureClassifier is null: leave the default or set a FailureClassifier instance.");
        }

        if (options.ResponseCache is { } cache)
        {
            CheckPositive(failures, $"{S}:ResponseCache:TimeToLive", cache.TimeToLive);
        }

        var budgeted = new List<(string, ModelPrice?, int)>();
        for (int i = 0; i < options.Deployments.Count; i++)
        {
            if (options.Deployments[i] is { } d)
            {
                Budgets.Internal.BudgetOptionsValidator.ValidateLimits(d.Budgets, $"{S}:Deployments:{i}:Budgets", failures);
                budgeted.Add((d.Name, d.Price ?? PriceCatalog.Default.Find(d.ModelId), d.Budgets.Count));
            }
        }

        if (options.Budgets is not null || budgeted.Exists(b => b.Item3 > 0))
        {
            Budgets.Internal.BudgetOptionsValidator.Validate(
                options.Budgets ?? new BudgetOptions(), budgeted, new HashSet<string>(routeNames.Concat(modelRoutes), StringComparer.OrdinalIgnoreCase), $"{S}:Budgets", failures);
        }

        return failures;
    }

    private static void CheckPositive(List<string> failures, string key, TimeSpan? value, bool allowZero = false)
    {
        if (value is TimeSpan t && (allowZero ? t < TimeSpan.Zero : t <= TimeSpan.Zero))
        {
            failures.Add($"{key} is {t}: it must be {(allowZero ? "zero or positive" : "positive")} (for example \"00:00:30\").");
        }
    }

    private static string Join(IEnumerable<string> names)
    {
        string joined = string.Join(", ", names.Order(StringComparer.OrdinalIgnoreCase).Select(n => $"'{n}'"));
        return joined.Length == 0 ? "(none)" : joined;
    }

    private static List<string> FindCycles(IList<RouteOptions> routes)
    {
        var edges = new Dictionary<string, IList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (RouteOptions r in routes)
        {
            if (r is not null && !string.IsNullOrWhiteSpace(r.Name))
            {
                edges.TryAdd(r.Name, r.Fallbacks);
            }
        }

        var cycles = new List<string>();
        var state = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase); // 1 visiting, 2 done
        var path = new List<string>();

        void Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (string next in edges[node])
            {
                if (next is null || !edges.ContainsKey(next))
                {
                    continue;
                }

                state.TryGetValue(next, out int s);
                if (s == 1)
                {
                    int start = path.FindIndex(p => string.Equals(p, next, StringComparison.OrdinalIgnoreCase));
                    cycles.Add(string.Join(" -> ", path.Skip(start).Append(next).Select(p => $"'{p}'")));
                }
                else if (s == 0)
                {
                    Visit(next);
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
        }

        foreach (string node in edges.Keys)
        {
            if (!state.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return cycles;
    }
}
