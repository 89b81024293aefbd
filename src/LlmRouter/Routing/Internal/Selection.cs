using System.Buffers;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>A deployment picked for an attempt, with the slots it holds.</summary>
internal readonly record struct Pick(Deployment Deployment, bool CircuitProbe, bool ColdProbe);

/// <summary>
/// The eligible deployments of one route for one request, scored once, handed out best-first by a linear scan per pick
/// (no sort: most requests need one pick, and 1,000 deployments stay well under the time budget). Arrays are pooled.
/// A mutable struct: keep it in a local and never copy it.
/// </summary>
internal struct Selection
{
    private const double Taken = double.NaN;

    private Deployment[]? _candidates;
    private double[]? _scores;
    private int _count;
    private int _remaining;
    private bool _firstPick;
    private readonly bool _latencyRanked;

    private Selection(bool latencyRanked)
    {
        _latencyRanked = latencyRanked;
        _firstPick = true;
    }

    /// <summary>Number of deployments that satisfy the constraints (available or not).</summary>
    public int Matching { get; private set; }

    /// <summary>Number of matching deployments that are cooling down or open.</summary>
    public int Unavailable { get; private set; }

    public static Selection Create(CompiledRoute route, in RequestScope scope, long now, ref UnavailableTracker unavailable)
    {
        Deployment[] members = route.Members;
        var selection = new Selection(route.Strategy.IsLatencyRanked)
        {
            _candidates = ArrayPool<Deployment>.Shared.Rent(members.Length),
            _scores = ArrayPool<double>.Shared.Rent(members.Length),
        };

        int count = 0;
        int matching = 0;
        int unavailableCount = 0;
        RouteConstraints? constraints = scope.Constraints;
        for (int i = 0; i < members.Length; i++)
        {
            Deployment d = members[i];
            if (constraints is not null && !constraints.Allows(d))
            {
                continue;
            }

            if (scope.MinContextWindow > 0 && (d.ContextWindow ?? 0) < scope.MinContextWindow)
            {
                continue;
            }

            matching++;
            if (scope.WasTried(d))
            {
                continue;
            }

            if (!d.Health.IsAvailable(now))
            {
                unavailableCount++;
                unavailable.Add(d, now);
                continue;
            }

            selection._candidates[count++] = d;
        }

        selection._count = count;
        selection._remaining = count;
        selection.Matching = matching;
        selection.Unavailable = unavailableCount;
        if (count > 0)
        {
            Span<double> scores = selection._scores.AsSpan(0, count);
            route.Strategy.Score(new RankingContext(selection._candidates.AsSpan(0, count), scope.Streaming, scope.Options, scope.Random, now), scores);
            for (int i = 0; i < scores.Length; i++)
            {
                if (double.IsNaN(scores[i]))
                {
                    scores[i] = double.PositiveInfinity;
                }
            }
        }

        return selection;
    }

    /// <summary>Hands out the next deployment to attempt, or <see langword="null"/> when the route is exhausted.</summary>
    public Deployment? Next(in RequestScope scope, long now, out Pick pick)
    {
        pick = default;
        double[] scores = _scores!;
        while (_remaining > 0)
        {
            int index = _firstPick && _latencyRanked ? FirstLatencyPick(scope) : ArgMin(scores);
            _firstPick = false;
            Deployment d = _candidates![index];
            bool coldProbe = false;
            if (_latencyRanked && d.Stats.IsCold(scope.Streaming, now))
            {
                coldProbe = d.Stats.TryAcquireColdProbe(scope.LatencyOptions.MaxConcurrentColdProbes);
                if (!coldProbe && !double.IsPositiveInfinity(scores[index]))
                {
                    // Enough requests are already probing this deployment: rank it after the measured ones.
                    scores[index] = double.PositiveInfinity;
                    continue;
                }
            }

            scores[index] = Taken;
            _remaining--;
            if (!d.Health.TryAdmit(now, out bool circuitProbe))
            {
                if (coldProbe)
                {
                    d.Stats.ReleaseColdProbe();
                }

                continue;
            }

            pick = new Pick(d, circuitProbe, coldProbe);
            return d;
        }

        return null;
    }

    public void Dispose()
    {
        if (_candidates is not null)
        {
            ArrayPool<Deployment>.Shared.Return(_candidates, clearArray: true);
            ArrayPool<double>.Shared.Return(_scores!);
            _candidates = null;
            _scores = null;
        }
    }

    private readonly int ArgMin(double[] scores)
    {
        int best = -1;
        double bestScore = double.PositiveInfinity;
        for (int i = 0; i < _count; i++)
        {
            double s = scores[i];
            if (double.IsNaN(s))
            {
                continue;
            }

            if (best < 0 || s < bestScore)
            {
                best = i;
                bestScore = s;
            }
        }

        return best;
    }

    /// <summary>Exploration (a random candidate) or a random choice among the near-ties of the best score.</summary>
    private readonly int FirstLatencyPick(in RequestScope scope)
    {
        double[] scores = _scores!;
        Random random = scope.Random;
        LatencyRankingOptions options = scope.LatencyOptions;
        if (_count > 1 && options.ExplorationRate > 0 && random.NextDouble() < options.ExplorationRate)
        {
            return random.Next(_count);
        }

        int best = ArgMin(scores);
        double limit = scores[best] * (1 + options.LatencyBuffer);
        if (double.IsPositiveInfinity(limit))
        {
            return best;
        }

        // Reservoir-sample one of the candidates within the buffer (cold ones score 0 and tie with each other).
        int chosen = best;
        int seen = 0;
        for (int i = 0; i < _count; i++)
        {
            if (scores[i] <= limit && random.Next(++seen) == 0)
            {
                chosen = i;
            }
        }

        return chosen;
    }
}
