namespace LlmRouter;

/// <summary>
/// A route at the moment of a <see cref="LlmRouterChatClient.GetSnapshot"/>: its deployments in the order a request
/// would try them now, which of them are available, and the routes it falls back to. Two snapshots are equal when
/// every value, list items included, is equal.
/// </summary>
public sealed record RouteSnapshot
{
    internal RouteSnapshot()
    {
    }

    /// <summary>Gets the route's name (what callers put in <c>ChatOptions.ModelId</c>; "*" for the implicit default route).</summary>
    public required string Name { get; init; }

    /// <summary>Gets whether requests without a model id go to this route.</summary>
    public bool IsDefault { get; init; }

    /// <summary>
    /// Gets the route's deployments ranked as a non-streaming request without constraints would try them now, rank 1
    /// first. The ranking is computed without side effects: no random draw, no exploration, no probe slot taken.
    /// Available deployments come first:
    /// <list type="bullet">
    /// <item><description>LowestLatency: by the strategy's score, the expected time to a success (latency estimate
    /// divided by the success rate). A deployment without trusted measurements (cold, stale) or an open circuit due
    /// for its probe scores 0 and ranks first, as the router probes it first. Ties keep configuration order; the router
    /// itself spreads the first pick at random among near-ties (<see cref="LatencyRankingOptions.LatencyBuffer"/>) and
    /// explores (<see cref="LatencyRankingOptions.ExplorationRate"/>), which a snapshot does not model. Streaming
    /// requests rank the same way by time to first token.</description></item>
    /// <item><description>Ordered: configuration order.</description></item>
    /// <item><description>Weighted: by weight, highest first (the most likely order; the router draws a random order per
    /// request in which a deployment comes first with probability weight / total weight).</description></item>
    /// <item><description>Custom strategies: configuration order. Their <see cref="RankingStrategy.Score"/> is not called,
    /// since it may keep state of its own (a round-robin counter) that a snapshot must not advance.</description></item>
    /// </list>
    /// Unavailable deployments (cooling down, circuit open or half-open, out of budget) follow in configuration order.
    /// </summary>
    public required IReadOnlyList<RankedDeployment> Deployments { get; init; }

    /// <summary>Gets the routes a request falls back to once this route's deployments are exhausted, in the order tried (direct fallbacks first, then theirs; each route once).</summary>
    public required IReadOnlyList<string> Fallbacks { get; init; }

    /// <summary>Gets the number of the route's deployments the router may select now.</summary>
    public int AvailableCount { get; init; }

    /// <inheritdoc />
    public bool Equals(RouteSnapshot? other) =>
        other is not null
        && string.Equals(Name, other.Name, StringComparison.Ordinal)
        && IsDefault == other.IsDefault
        && AvailableCount == other.AvailableCount
        && Deployments.SequenceEqual(other.Deployments)
        && Fallbacks.SequenceEqual(other.Fallbacks, StringComparer.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, IsDefault, AvailableCount, Deployments.Count, Fallbacks.Count);
}
