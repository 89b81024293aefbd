namespace LlmRouter;

/// <summary>
/// Ranks the eligible deployments of a route for one request by giving each a score: lower is tried first.
/// The router then attempts deployments in score order, failing over to the next. Built-ins are "LowestLatency"
/// (the default), "Ordered", "Weighted", "CostAware" and "PriceWeighted"; register others with
/// <c>LlmRouterBuilder.AddRankingStrategy</c> or <see cref="LlmRouterOptions.Strategies"/>.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Score"/> runs on every request: it must be thread-safe and should not allocate.
/// A score of <see cref="double.PositiveInfinity"/> or <see cref="double.NaN"/> puts a deployment last.
/// </para>
/// <para>
/// Two hooks shape the pick beyond the scores: <see cref="SelectFirst"/> chooses the first deployment to try (LowestLatency
/// explores and spreads near-ties there), and <see cref="LimitsColdProbes"/> bounds how many requests at once go to a
/// deployment with no latency data yet, for strategies that rank such deployments first.
/// </para>
/// </remarks>
public abstract class RankingStrategy
{
    /// <summary>
    /// The offset the router adds to the score of a deployment without room in its provider's rate limits, after
    /// <see cref="Score"/>, so it ranks after every deployment with room while keeping the strategy's order among such
    /// deployments. <see cref="SelectFirst"/> sees the scores with the offset added.
    /// </summary>
    public const double RateLimitedOffset = 1e12;

    /// <summary>Writes a score for each candidate: <paramref name="scores"/>[i] belongs to <c>context.Candidates[i]</c>.</summary>
    /// <param name="context">The eligible deployments and the request.</param>
    /// <param name="scores">Where to write the scores; as long as the candidate list.</param>
    public abstract void Score(RankingContext context, Span<double> scores);

    /// <summary>
    /// Chooses the deployment a request tries first, from the scores <see cref="Score"/> wrote (plus
    /// <see cref="RateLimitedOffset"/> for deployments at their rate limit); failover then takes the others lowest score
    /// first. The default takes the lowest score (the first listed among equals). Override it to explore or to spread
    /// requests over near-equal deployments; it runs on every request, so it must be thread-safe and should not allocate.
    /// </summary>
    /// <param name="context">The eligible deployments and the request, as <see cref="Score"/> saw them.</param>
    /// <param name="scores">The scores, one per candidate (none is <see cref="double.NaN"/>).</param>
    /// <returns>The index of the candidate to try first, from 0 to <c>scores.Length - 1</c>.</returns>
    protected virtual int SelectFirst(RankingContext context, ReadOnlySpan<double> scores) => LowestScore(scores);

    /// <summary>
    /// Gets whether the router bounds how many requests at once may try a deployment that has no trusted latency data yet
    /// (<see cref="LatencyRankingOptions.MaxConcurrentColdProbes"/>), ranking it after the measured ones while the probes
    /// run. Return <see langword="true"/> when the strategy scores unmeasured deployments first, as LowestLatency does, so a
    /// new or recovered deployment is measured by a few requests rather than flooded.
    /// </summary>
    protected virtual bool LimitsColdProbes => false;

    /// <summary>The router's entry to <see cref="SelectFirst"/> (protected, so user code overrides it as such).</summary>
    internal int SelectFirstFor(RankingContext context, ReadOnlySpan<double> scores) => SelectFirst(context, scores);

    /// <summary>The router's entry to <see cref="LimitsColdProbes"/>.</summary>
    internal bool BoundsColdProbes => LimitsColdProbes;

    /// <summary>Gets whether this is one of the router's own strategies (which never write NaN scores).</summary>
    internal virtual bool IsBuiltIn => false;

    /// <summary>The index of the lowest score, the first among equals (0 when every score is NaN).</summary>
    internal static int LowestScore(ReadOnlySpan<double> scores)
    {
        int best = 0;
        double bestScore = double.NaN;
        for (int i = 0; i < scores.Length; i++)
        {
            double s = scores[i];
            if (!double.IsNaN(s) && (double.IsNaN(bestScore) || s < bestScore))
            {
                best = i;
                bestScore = s;
            }
        }

        return best;
    }
}
