namespace LlmRouter;

/// <summary>
/// Ranks the eligible deployments of a route for one request by giving each a score: lower is tried first.
/// The router then attempts deployments in score order, failing over to the next. Built-ins are "LowestLatency"
/// (the default), "Ordered" and "Weighted"; register others with <c>LlmRouterBuilder.AddRankingStrategy</c> or
/// <see cref="LlmRouterOptions.Strategies"/>.
/// </summary>
/// <remarks>
/// <see cref="Score"/> runs on every request: it must be thread-safe and should not allocate.
/// A score of <see cref="double.PositiveInfinity"/> or <see cref="double.NaN"/> puts a deployment last.
/// </remarks>
public abstract class RankingStrategy
{
    /// <summary>Writes a score for each candidate: <paramref name="scores"/>[i] belongs to <c>context.Candidates[i]</c>.</summary>
    /// <param name="context">The eligible deployments and the request.</param>
    /// <param name="scores">Where to write the scores; as long as the candidate list.</param>
    public abstract void Score(RankingContext context, Span<double> scores);

    /// <summary>Gets whether the router applies latency-ranking extras: exploration, near-tie spreading and bounded cold probes.</summary>
    internal virtual bool IsLatencyRanked => false;

    /// <summary>Gets whether this is one of the router's own strategies (which never write NaN scores).</summary>
    internal virtual bool IsBuiltIn => false;
}
