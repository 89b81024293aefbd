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
    }

    public string Name { get; }

    /// <summary>Whether the router made this route for a model id served by deployments (rather than it being configured).</summary>
    public bool IsImplicit { get; init; }

    public Deployment[] Members { get; }

    public RankingStrategy Strategy { get; }

    public int MaxAttempts { get; }

    /// <summary>The route content-policy refusals go to, if any.</summary>
    public CompiledRoute? ContentPolicyFallback { get; set; }

    /// <summary>The smallest known context window among the deployments of <see cref="Chain"/>, if any is known.</summary>
    public int? SmallestWindow { get; set; }

    /// <summary>This route, then its fallbacks breadth-first (each route once), as tried by a request.</summary>
    public CompiledRoute[] Chain { get; set; }
}
