namespace LlmRouter.Routing.Internal;

/// <summary>A route resolved against the deployments: members, strategy, and the full fallback chain, computed once.</summary>
internal sealed class CompiledRoute
{
    public CompiledRoute(string name, Deployment[] members, RankingStrategy strategy, int? maxAttempts)
    {
        Name = name;
        Members = members;
        Strategy = strategy;
        MaxAttempts = maxAttempts ?? int.MaxValue;
        Chain = [this];
        foreach (Deployment d in members)
        {
            HasQuotas |= d.RateLimits.Any;
        }
    }

    /// <summary>Whether some member has a rate limit the router tracks (declared, or reported by its provider's headers), so selection checks room.</summary>
    public bool HasQuotas { get; }

    /// <summary>Whether some deployment of <see cref="Chain"/> has a token rate limit (declared, or possibly reported by its provider), so a request estimates its prompt tokens.</summary>
    public bool ChainHasTokenQuotas { get; set; }

    public string Name { get; }

    /// <summary>Whether the router made this route for a model id served by deployments (rather than it being configured).</summary>
    public bool IsImplicit { get; init; }

    public Deployment[] Members { get; }

    public RankingStrategy Strategy { get; }

    public int MaxAttempts { get; }

    /// <summary>The route's prefix affinity, if any (a copy of the options, read once).</summary>
    public PrefixAffinityOptions? PrefixAffinity { get; init; }

    /// <summary>The route's hedging, if any (a copy of the options, read once).</summary>
    public HedgingOptions? Hedging { get; init; }

    /// <summary>Recent requests and hedged requests of this route (halved every 1,024 requests), for <see cref="HedgingOptions.MaxHedgedShare"/>.</summary>
    private long _requests;
    private long _hedged;

    /// <summary>Counts a hedged-route request; returns nothing.</summary>
    public void CountRequest()
    {
        if (Interlocked.Increment(ref _requests) % 1024 == 0)
        {
            Interlocked.Exchange(ref _requests, Volatile.Read(ref _requests) / 2);
            Interlocked.Exchange(ref _hedged, Volatile.Read(ref _hedged) / 2);
        }
    }

    /// <summary>Takes a hedge if the route's recent hedged share leaves room for it.</summary>
    public bool TryTakeHedge(double maxShare)
    {
        long requests = Math.Max(Volatile.Read(ref _requests), 1);
        if (Volatile.Read(ref _hedged) + 1 > Math.Max(1, maxShare * requests))
        {
            return false;
        }

        Interlocked.Increment(ref _hedged);
        return true;
    }

    /// <summary>Gives back a hedge taken with <see cref="TryTakeHedge"/> that found no deployment to run on.</summary>
    public void ReturnHedge() => Interlocked.Decrement(ref _hedged);

    /// <summary>The route content-policy refusals go to, if any.</summary>
    public CompiledRoute? ContentPolicyFallback { get; set; }

    /// <summary>The smallest known context window among the deployments of <see cref="Chain"/>, if any is known.</summary>
    public int? SmallestWindow { get; set; }

    /// <summary>The largest known context window among the deployments of <see cref="Chain"/>, if any is known.</summary>
    public int? LargestWindow { get; set; }

    /// <summary>This route, then its fallbacks breadth-first (each route once), as tried by a request.</summary>
    public CompiledRoute[] Chain { get; set; }
}
