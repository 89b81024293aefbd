using System.Collections.Frozen;

namespace LlmRouter.Routing.Internal;

/// <summary>All routes of a router, looked up by name without allocation.</summary>
internal sealed class RouteTable
{
    private readonly FrozenDictionary<string, CompiledRoute> _routes;

    private RouteTable(FrozenDictionary<string, CompiledRoute> routes, CompiledRoute defaultRoute, string[] names)
    {
        _routes = routes;
        Default = defaultRoute;
        Names = names;
    }

    public CompiledRoute Default { get; }

    public IReadOnlyList<string> Names { get; }

    public bool TryGet(string name, out CompiledRoute route) => _routes.TryGetValue(name, out route!);

    public static RouteTable Build(LlmRouterOptions options, Deployment[] deployments, IReadOnlyDictionary<string, RankingStrategy> strategies)
    {
        var byName = new Dictionary<string, Deployment>(StringComparer.OrdinalIgnoreCase);
        foreach (Deployment d in deployments)
        {
            byName[d.Name] = d;
        }

        var routes = new Dictionary<string, CompiledRoute>(StringComparer.OrdinalIgnoreCase);
        var names = new List<string>();
        foreach (RouteOptions r in options.Routes)
        {
            Deployment[] members = [.. r.Deployments.Select(n => byName[n])];
            RankingStrategy strategy = string.Equals(r.Strategy, RouterDefaults.CostAware, StringComparison.OrdinalIgnoreCase) && r.LatencyObjective is not null
                ? new CostAwareStrategy(r.LatencyObjective)
                : strategies[r.Strategy];
            routes[r.Name] = new CompiledRoute(r.Name, members, strategy, r.MaxAttempts)
            {
                PrefixAffinity = r.PrefixAffinity is { } pa ? new PrefixAffinityOptions { MinimumPrefixLength = pa.MinimumPrefixLength, LatencyTolerance = pa.LatencyTolerance } : null,
                Hedging = r.Hedging is { } h
                    ? new HedgingOptions { Delay = h.Delay, DelayPercentile = h.DelayPercentile, MaxExtraAttempts = h.MaxExtraAttempts, MaxHedgedShare = h.MaxHedgedShare, OnFirstUpdate = h.OnFirstUpdate }
                    : null,
            };
            if (r.Hedging?.DelayPercentile is not null)
            {
                foreach (Deployment d in members)
                {
                    d.HealthState.TrackQuantiles();
                }
            }
            names.Add(r.Name);
        }

        // Implicit routes: each model id served by deployments and not already a route name.
        foreach (IGrouping<string, Deployment> model in deployments.Where(d => d.ModelId is not null).GroupBy(d => d.ModelId!, StringComparer.OrdinalIgnoreCase))
        {
            if (!routes.ContainsKey(model.Key))
            {
                routes[model.Key] = new CompiledRoute(model.Key, [.. model], strategies[RouterDefaults.Strategy], null) { IsImplicit = true };
                names.Add(model.Key);
            }
        }

        foreach (RouteOptions r in options.Routes)
        {
            routes[r.Name].Chain = BuildChain(routes[r.Name], options, routes);
        }

        foreach (RouteOptions r in options.Routes)
        {
            if (r.ContentPolicyFallback is { } contentFallback)
            {
                routes[r.Name].ContentPolicyFallback = routes[contentFallback];
            }
        }

        CompiledRoute defaultRoute = options.DefaultRoute is { } name
            ? routes[name]
            : new CompiledRoute(RouterDefaults.ImplicitDefaultRouteName, deployments, strategies[RouterDefaults.Strategy], null);

        foreach (CompiledRoute route in routes.Values.Append(defaultRoute))
        {
            int? smallest = null;
            int? largest = null;
            bool tokenQuotas = false;
            foreach (CompiledRoute step in route.Chain)
            {
                foreach (Deployment d in step.Members)
                {
                    if (d.ContextWindow is int window)
                    {
                        smallest = Math.Min(smallest ?? int.MaxValue, window);
                        largest = Math.Max(largest ?? 0, window);
                    }

                    tokenQuotas |= d.RateLimits.Tokens is not null || d.RateLimits.Reported is not null;
                }
            }

            route.SmallestWindow = smallest;
            route.LargestWindow = largest;
            route.ChainHasTokenQuotas = tokenQuotas;
        }

        return new RouteTable(routes.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), defaultRoute, [.. names]);
    }

    private static CompiledRoute[] BuildChain(CompiledRoute start, LlmRouterOptions options, Dictionary<string, CompiledRoute> routes)
    {
        var fallbacksOf = options.Routes.ToDictionary(r => r.Name, r => r.Fallbacks, StringComparer.OrdinalIgnoreCase);
        var chain = new List<CompiledRoute> { start };
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { start.Name };
        for (int i = 0; i < chain.Count; i++)
        {
            if (!fallbacksOf.TryGetValue(chain[i].Name, out IList<string>? fallbacks))
            {
                continue;
            }

            foreach (string f in fallbacks)
            {
                if (seen.Add(f))
                {
                    chain.Add(routes[f]);
                }
            }
        }

        return [.. chain];
    }
}
