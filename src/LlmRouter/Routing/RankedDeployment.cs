namespace LlmRouter;

/// <summary>A deployment of a route as a <see cref="RouteSnapshot"/> ranks it.</summary>
public sealed record RankedDeployment
{
    internal RankedDeployment()
    {
    }

    /// <summary>
    /// Gets the position in the route's current order, from 1 (tried first). Available deployments come first, in the
    /// order the route's strategy gives them; unavailable ones follow in configuration order and are not tried until they
    /// become available. See <see cref="RouteSnapshot.Deployments"/> for what the order means for each strategy.
    /// </summary>
    public int Rank { get; init; }

    /// <summary>Gets the deployment's name (its state is in <see cref="RouterSnapshot.Deployments"/>).</summary>
    public required string Name { get; init; }

    /// <summary>Gets whether the router may select the deployment now.</summary>
    public bool IsAvailable { get; init; }
}
