namespace LlmRouter.Routing.Internal;

/// <summary>
/// Ranks by measured latency: time to first update for streams, normalised total time otherwise, divided by the
/// deployment's recent success rate (the expected time to a success). Deployments without trusted data, and open
/// circuits due for their half-open probe, score 0 so they are probed first; the router bounds how many such probes run.
/// </summary>
internal sealed class LowestLatencyStrategy(LatencyRankingOptions options) : RankingStrategy
{
    protected override bool LimitsColdProbes => true;

    internal override bool IsBuiltIn => true;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        bool streaming = context.IsStreaming;
        long now = context.Timestamp;
        for (int i = 0; i < candidates.Length; i++)
        {
            scores[i] = Score(candidates[i], streaming, now);
        }
    }

    /// <summary>
    /// Exploration (a random candidate, <see cref="LatencyRankingOptions.ExplorationRate"/>) or a random choice among the
    /// near-ties of the best score (<see cref="LatencyRankingOptions.LatencyBuffer"/>); one random draw in the common case.
    /// </summary>
    protected override int SelectFirst(RankingContext context, ReadOnlySpan<double> scores)
    {
        int count = scores.Length;

        // One uniform draw decides exploration and, rescaled, which near-tie to take.
        double u = context.Random.NextDouble();
        double rate = options.ExplorationRate;
        if (count > 1 && u < rate)
        {
            // Exploration measures deployments the ranking passes over, never one at its rate limit (a sure 429).
            int explored = Math.Min(count - 1, (int)(u / rate * count));
            if (scores[explored] < RateLimitedOffset)
            {
                return explored;
            }
        }

        u = rate > 0 ? (u - rate) / (1 - rate) : u;

        int best = LowestScore(scores);
        double limit = Selection.Tolerated(scores[best], options.LatencyBuffer);
        if (double.IsPositiveInfinity(limit))
        {
            return best;
        }

        // Cold candidates score 0 and tie with each other.
        int ties = 0;
        foreach (double s in scores)
        {
            if (s <= limit)
            {
                ties++;
            }
        }

        if (ties == 1)
        {
            return best;
        }

        int k = Math.Min(ties - 1, (int)(u * ties));
        for (int i = 0; i < count; i++)
        {
            if (scores[i] <= limit && k-- == 0)
            {
                return i;
            }
        }

        return best;
    }

    public static double Score(Deployment d, bool streaming, long now)
    {
        // Cold, or an open circuit whose break has passed (it is only eligible then): try it first. Only one request
        // wins the half-open probe, and at most a few the cold probes, so one request pays if it is still broken.
        if (d.Stats.IsCold(streaming, now) || d.Health.State == CircuitState.Open)
        {
            return 0;
        }

        double failure = Math.Min(d.Stats.FailureRate, RouterDefaults.MaxFailureRateForScore);
        return d.Stats.MeanSeconds(streaming) / (1 - failure);
    }
}

/// <summary>Ranks in the route's listed order.</summary>
internal sealed class OrderedStrategy : RankingStrategy
{
    internal override bool IsBuiltIn => true;

    public override void Score(RankingContext context, Span<double> scores)
    {
        for (int i = 0; i < context.Candidates.Length; i++)
        {
            scores[i] = i;
        }
    }
}

/// <summary>
/// Random order by weight: each deployment draws an exponential variate with rate = weight and the smallest wins, which
/// picks deployment i first with probability w_i / sum(w) and orders the rest the same way for failover.
/// With an affinity key (<see cref="RoutingChatOptionsExtensions.WithAffinityKey"/>) the variate comes from a hash of the
/// key and the deployment's name instead of the random source (weighted rendezvous hashing): the same key always ranks
/// the deployments the same way, keys still split by weight, and when a deployment is unavailable only its keys move
/// (to their second choice), returning when it does.
/// </summary>
internal sealed class WeightedStrategy : RankingStrategy
{
    internal override bool IsBuiltIn => true;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        if (context.Options.GetAffinityKey() is { } key)
        {
            ulong keyHash = StableHash.Of(key);
            for (int i = 0; i < candidates.Length; i++)
            {
                scores[i] = -Math.Log(StableHash.Unit(keyHash, candidates[i].NameHash)) / candidates[i].Weight;
            }

            return;
        }

        Random random = context.Random;
        for (int i = 0; i < candidates.Length; i++)
        {
            double u = 1.0 - random.NextDouble(); // (0, 1]
            scores[i] = -Math.Log(u) / candidates[i].Weight;
        }
    }
}

/// <summary>
/// "CostAware": the cheapest deployment whose recent latency meets the route's objective
/// (<see cref="RouteOptions.LatencyObjective"/>), then the others by latency. Price is the blended price per million
/// tokens (3 input : 1 output, the usual blend); a deployment without latency data counts as meeting the objective, so it
/// is measured; one without a price ranks after the priced ones. Without an objective: cheapest first, latency breaking ties.
/// </summary>
internal sealed class CostAwareStrategy(TimeSpan? objective) : RankingStrategy
{
    private const double Missed = 1e6;
    private const double Unpriced = 1e3;
    private readonly double _objectiveSeconds = objective?.TotalSeconds ?? double.PositiveInfinity;

    internal override bool IsBuiltIn => true;

    public TimeSpan? Objective => objective;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        for (int i = 0; i < candidates.Length; i++)
        {
            Deployment d = candidates[i];
            double latency = LowestLatencyStrategy.Score(d, context.IsStreaming, context.Timestamp); // 0 when cold
            double price = d.BlendedPricePerMillion is double p ? p : Unpriced;
            scores[i] = latency <= _objectiveSeconds
                ? price + (latency * 1e-9)
                : Missed + latency;
        }
    }
}

/// <summary>
/// "PriceWeighted" (OpenRouter's default balancing): a random pick among the available deployments with probability
/// proportional to 1 / price^2 of the blended price, so a provider half the price gets four times the traffic. A
/// deployment without a price gets the weight of the dearest priced one; a free one is always first.
/// </summary>
internal sealed class PriceWeightedStrategy : RankingStrategy
{
    internal override bool IsBuiltIn => true;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        double dearest = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            dearest = Math.Max(dearest, candidates[i].BlendedPricePerMillion ?? 0);
        }

        Random random = context.Random;
        for (int i = 0; i < candidates.Length; i++)
        {
            double price = candidates[i].BlendedPricePerMillion ?? dearest;
            double u = 1.0 - random.NextDouble(); // (0, 1]
            scores[i] = -Math.Log(u) * price * price; // exponential with rate 1 / price^2
        }
    }
}
