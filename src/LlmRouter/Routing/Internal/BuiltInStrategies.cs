namespace LlmRouter.Routing.Internal;

/// <summary>
/// Ranks by measured latency: time to first update for streams, normalised total time otherwise, divided by the
/// deployment's recent success rate (the expected time to a success). Deployments without trusted data, and open
/// circuits due for their half-open probe, score 0 so they are probed first; the router bounds how many such probes run.
/// </summary>
internal sealed class LowestLatencyStrategy : RankingStrategy
{
    internal override bool IsLatencyRanked => true;

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
/// </summary>
internal sealed class WeightedStrategy : RankingStrategy
{
    internal override bool IsBuiltIn => true;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        Random random = context.Random;
        for (int i = 0; i < candidates.Length; i++)
        {
            double u = 1.0 - random.NextDouble(); // (0, 1]
            scores[i] = -Math.Log(u) / candidates[i].Weight;
        }
    }
}
