namespace LlmRouter;

/// <summary>
/// The router's state at one moment, from <see cref="LlmRouterChatClient.GetSnapshot"/>: every deployment's health
/// and latency, and every route's current ranking. Two snapshots are equal when every value, list items included, is equal.
/// </summary>
/// <remarks>
/// Values are read without locks while traffic flows, so under load a snapshot is a consistent view of each
/// deployment, not an atomic view of all of them.
/// </remarks>
public sealed record RouterSnapshot
{
    internal RouterSnapshot()
    {
    }

    /// <summary>Gets when the snapshot was taken (UTC, from the router's <see cref="TimeProvider"/>).</summary>
    public DateTimeOffset TakenAt { get; init; }

    /// <summary>Gets every deployment, in configuration order.</summary>
    public required IReadOnlyList<DeploymentSnapshot> Deployments { get; init; }

    /// <summary>
    /// Gets the configured routes in configuration order; then, when <see cref="LlmRouterOptions.DefaultRoute"/> is unset,
    /// the implicit default route "*" over all deployments. The implicit route the router makes for each model id (which
    /// repeats deployments already listed) is left out. Exactly one route has <see cref="RouteSnapshot.IsDefault"/> set.
    /// </summary>
    public required IReadOnlyList<RouteSnapshot> Routes { get; init; }

    /// <summary>Gets a deployment's snapshot by name (case-insensitive), or <see langword="null"/>.</summary>
    /// <param name="name">The deployment name.</param>
    /// <returns>The deployment's snapshot, or <see langword="null"/> when there is none of that name.</returns>
    public DeploymentSnapshot? FindDeployment(string name)
    {
        foreach (DeploymentSnapshot d in Deployments)
        {
            if (string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return d;
            }
        }

        return null;
    }

    /// <summary>Gets a route's snapshot by name (case-insensitive), or <see langword="null"/>.</summary>
    /// <param name="name">The route name.</param>
    /// <returns>The route's snapshot, or <see langword="null"/> when there is none of that name.</returns>
    public RouteSnapshot? FindRoute(string name)
    {
        foreach (RouteSnapshot r in Routes)
        {
            if (string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return r;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public bool Equals(RouterSnapshot? other) =>
        other is not null
        && TakenAt == other.TakenAt
        && Deployments.SequenceEqual(other.Deployments)
        && Routes.SequenceEqual(other.Routes);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(TakenAt, Deployments.Count, Routes.Count);
}
