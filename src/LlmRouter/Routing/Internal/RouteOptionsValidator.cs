using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter.Routing.Internal;

/// <summary>Checks the <see cref="RouteOptions"/> of a router, their fallbacks and cycles; each failure names its configuration key.</summary>
internal static class RouteOptionsValidator
{
    private const string S = RouterDefaults.ConfigurationSection;

    /// <summary>Checks every route against the deployment and strategy names and returns the set of route names.</summary>
    public static HashSet<string> Validate(IList<RouteOptions> routes, IEnumerable<string> customStrategies, ISet<string> deploymentNames, List<string> failures)
    {
        var strategyNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { RouterDefaults.LowestLatency, RouterDefaults.Ordered, RouterDefaults.Weighted, RouterDefaults.CostAware, RouterDefaults.PriceWeighted };
        strategyNames.UnionWith(customStrategies);

        var routeNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < routes.Count; i++)
        {
            RouteOptions r = routes[i];
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

            ValidateRoute(r, at, deploymentNames, strategyNames, failures);
        }

        ValidateFallbacks(routes, routeNames, failures);
        return routeNames;
    }

    /// <summary>
    /// The routes a request may name: the configured routes, then the implicit route of every model id that is not a
    /// route name. Computed without checking anything, for validators of other options that refer to routes.
    /// </summary>
    public static HashSet<string> KnownRoutes(LlmRouterOptions options)
    {
        var routeNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (RouteOptions r in options.Routes)
        {
            if (!string.IsNullOrWhiteSpace(r?.Name))
            {
                routeNames.Add(r.Name);
            }
        }

        return new HashSet<string>(routeNames.Concat(ImplicitRoutes(options.Deployments, routeNames)), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The model ids of the deployments that are not route names: each is an implicit route.</summary>
    public static HashSet<string> ImplicitRoutes(IList<DeploymentOptions> deployments, ISet<string> routeNames)
    {
        var modelRoutes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (DeploymentOptions d in deployments)
        {
            if (d?.ModelId is { } model && !routeNames.Contains(model))
            {
                modelRoutes.Add(model);
            }
        }

        return modelRoutes;
    }

    private static void ValidateRoute(RouteOptions r, string at, ISet<string> deploymentNames, HashSet<string> strategyNames, List<string> failures)
    {
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
            ValidateHedging(hedging, at, failures);
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

    private static void ValidateHedging(HedgingOptions hedging, string at, List<string> failures)
    {
        if (hedging.Delay is null && hedging.DelayPercentile is null)
        {
            failures.Add($"{at}:Hedging needs Delay, DelayPercentile or both: when to start the hedge.");
        }

        CheckTimerDelay(failures, $"{at}:Hedging:Delay", hedging.Delay, allowZero: true);

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

    private static void ValidateFallbacks(IList<RouteOptions> routes, HashSet<string> routeNames, List<string> failures)
    {
        for (int i = 0; i < routes.Count; i++)
        {
            RouteOptions r = routes[i];
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

        foreach (string cycle in FindCycles(routes))
        {
            failures.Add($"{S}:Routes: fallback cycle {cycle}: a route must not fall back to itself, directly or through other routes.");
        }
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
