using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace LlmRouter.Routing.Internal;

/// <summary>A deployment picked for an attempt, with the slots it holds.</summary>
internal readonly record struct Pick(Deployment Deployment, bool CircuitProbe, bool ColdProbe);

/// <summary>Inline room for the candidates of a small route, so the common case rents nothing.</summary>
[InlineArray(Selection.InlineCapacity)]
internal struct DeploymentBuffer
{
    private Deployment _element;
}

/// <summary>Inline room for the scores of a small route.</summary>
[InlineArray(Selection.InlineCapacity)]
internal struct ScoreBuffer
{
    private double _element;
}

/// <summary>
/// The eligible deployments of one route for one request, scored once, handed out best-first by a linear scan per pick
/// (no sort: most requests need one pick, and 1,000 deployments stay well under the time budget). Routes of up to
/// <see cref="InlineCapacity"/> deployments use inline buffers; larger ones rent pooled arrays.
/// A mutable struct: keep it in a local or a field and never copy it while in use.
/// </summary>
internal struct Selection
{
    public const int InlineCapacity = 4;

    private const double Taken = double.NaN;

    private DeploymentBuffer _inlineCandidates;
    private ScoreBuffer _inlineScores;
    private Deployment[]? _rentedCandidates;
    private Deployment[]? _memberPrefix;
    private double[]? _rentedScores;
    private int _count;
    private int _remaining;
    private bool _firstPick;
    private bool _limitsColdProbes;
    private RankingStrategy? _strategy;
    private int _affinity;

    /// <summary>Number of deployments that satisfy the constraints (available or not).</summary>
    public int Matching { get; private set; }

    /// <summary>Number of deployments that satisfy the constraints but whose known context window is too small for the prompt.</summary>
    public int TooSmall { get; private set; }

    /// <summary>Number of deployments that satisfy the constraints but have exhausted a deployment budget.</summary>
    public int OverBudget { get; private set; }

    /// <summary>
    /// The candidates (the first <see cref="_count"/>): the route's own member array when they are a prefix of it (the
    /// common case, every member eligible: no copy), else the eligible members copied into the inline buffer or a rented array.
    /// </summary>
    [UnscopedRef]
    private readonly ReadOnlySpan<Deployment> Candidates =>
        _memberPrefix is not null ? _memberPrefix : _rentedCandidates is not null ? _rentedCandidates : _inlineCandidates;

    [UnscopedRef]
    private Span<double> Scores => _rentedScores is null ? _inlineScores : _rentedScores;

    /// <summary>Fills <paramref name="selection"/> in place (it is large; no copy) with the route's eligible, scored deployments.</summary>
    public static void Initialize(ref Selection selection, CompiledRoute route, in RequestScope scope, long now, ref UnavailableTracker unavailable)
    {
        Deployment[] members = route.Members;
        selection._strategy = route.Strategy;
        selection._limitsColdProbes = route.Strategy.BoundsColdProbes;
        selection.OverBudget = 0;
        selection.TooSmall = 0;
        selection._affinity = -1;
        selection._firstPick = true;
        selection._memberPrefix = null;
        if (members.Length > InlineCapacity)
        {
            selection._rentedScores = ArrayPool<double>.Shared.Rent(members.Length);
        }

        // Candidates are copied only from the first member left out on: until then they are members[..count].
        scoped Span<Deployment> copied = default;
        bool copying = false;
        int count = 0;
        int matching = 0;
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

            if (scope.RequiredContext > 0 && d.ContextWindow is int window && window < scope.RequiredContext)
            {
                // Known too small for this prompt: never sent (LiteLLM #31557 picks smaller windows on fallback).
                selection.TooSmall++;
                continue;
            }

            if (d.IsHeld(now))
            {
                selection.OverBudget++;
                continue;
            }

            matching++;
            if (scope.WasTried(d))
            {
                continue;
            }

            if (!d.Health.IsAvailable(now))
            {
                unavailable.Add(d, now);
                continue;
            }

            if (!copying && count == i)
            {
                // Still a prefix of the members: nothing to copy.
                count++;
                continue;
            }

            if (!copying)
            {
                copying = true;
                if (members.Length > InlineCapacity)
                {
                    selection._rentedCandidates = ArrayPool<Deployment>.Shared.Rent(members.Length);
                }

                copied = selection._rentedCandidates is null ? selection._inlineCandidates : selection._rentedCandidates;
                members.AsSpan(0, count).CopyTo(copied);
            }

            copied[count++] = d;
        }

        if (!copying)
        {
            selection._memberPrefix = members;
        }

        ReadOnlySpan<Deployment> candidates = selection.Candidates;
        selection._count = count;
        selection._remaining = count;
        selection.Matching = matching;
        if (count > 0)
        {
            Span<double> scores = selection.Scores[..count];
            RankingStrategy strategy = route.Strategy;
            strategy.Score(new RankingContext(candidates[..count], scope.Streaming, scope.Options, scope.Random, now), scores);
            DeferAtRateLimit(candidates[..count], scores, now, in scope, route);

            selection._affinity = scope.PrefixHash != 0 && route.PrefixAffinity is { } affinity
                ? AffinityPick(candidates[..count], scores, scope.PrefixHash, affinity.LatencyTolerance)
                : -1;
            if (!strategy.IsBuiltIn)
            {
                // NaN marks a taken candidate here; a custom strategy's NaN means "last".
                for (int i = 0; i < scores.Length; i++)
                {
                    if (double.IsNaN(scores[i]))
                    {
                        scores[i] = double.PositiveInfinity;
                    }
                }
            }
        }
    }

    /// <summary>Hands out the next deployment to attempt, or <see langword="null"/> when the route is exhausted.</summary>
    public Deployment? Next(in RequestScope scope, long now, out Pick pick)
    {
        pick = default;
        Span<double> scores = Scores;
        ReadOnlySpan<Deployment> candidates = Candidates;
        while (_remaining > 0)
        {
            int index = !_firstPick ? ArgMin(scores, _count)
                : _affinity >= 0 ? _affinity
                : SelectFirst(candidates[.._count], scores[.._count], in scope, now);
            if (_limitsColdProbes && double.IsPositiveInfinity(scores[index]))
            {
                // Only deferred cold deployments are left (every probe slot busy, e.g. at start-up under load):
                // spread such requests at random instead of piling them onto the first deployment listed.
                index = RandomRemaining(scores, scope.Random);
            }

            _firstPick = false;
            Deployment d = candidates[index];
            if (scope.MinContextWindow > 0 && (d.ContextWindow ?? 0) < scope.MinContextWindow)
            {
                // A context overflow earlier in this request rules out windows this small.
                scores[index] = Taken;
                _remaining--;
                continue;
            }

            bool coldProbe = false;
            if (_limitsColdProbes && d.Stats.IsCold(scope.Streaming, now))
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
            d.RateLimits.Use(now, scope.PromptTokens);
            return d;
        }

        return null;
    }

    public void Dispose()
    {
        if (_rentedCandidates is not null)
        {
            ArrayPool<Deployment>.Shared.Return(_rentedCandidates, clearArray: true);
            ArrayPool<double>.Shared.Return(_rentedScores!);
            _rentedCandidates = null;
            _rentedScores = null;
        }

        _count = 0;
        _remaining = 0;
        _strategy = null;
        _memberPrefix = null;
    }

    /// <summary>
    /// Ranks the deployments without room in their declared or reported rate limits, and those a recent sporadic 429 throttles,
    /// after all the others, keeping the strategy's order among them.
    /// </summary>
    private static void DeferAtRateLimit(ReadOnlySpan<Deployment> candidates, Span<double> scores, long now, in RequestScope scope, CompiledRoute route)
    {
        for (int i = 0; i < candidates.Length; i++)
        {
            Deployment d = candidates[i];
            if (d.Health.IsThrottled(now) || (route.HasQuotas && !d.RateLimits.HasRoom(now, scope.PromptTokens)))
            {
                scores[i] += RankingStrategy.RateLimitedOffset;
                scope.Observer.DeferredAtRateLimit(route.Name, d);
            }
        }
    }

    /// <summary>
    /// The prefix's deployment: by rendezvous hashing of the prefix hash and the names, among the candidates whose score is
    /// finite and within <paramref name="tolerance"/> of the best (scores are expected latencies, or prices, lower first).
    /// -1 when no candidate has a usable score.
    /// </summary>
    private static int AffinityPick(ReadOnlySpan<Deployment> candidates, ReadOnlySpan<double> scores, ulong prefixHash, double tolerance)
    {
        double best = double.PositiveInfinity;
        foreach (double s in scores)
        {
            best = Math.Min(best, s);
        }

        if (double.IsPositiveInfinity(best) || double.IsNaN(best))
        {
            return -1;
        }

        double limit = best <= 0 ? best : Tolerated(best, tolerance);
        int chosen = -1;
        double top = -1;
        for (int i = 0; i < candidates.Length; i++)
        {
            if (scores[i] <= limit && StableHash.Unit(prefixHash, candidates[i].NameHash) is double weight && weight > top)
            {
                chosen = i;
                top = weight;
            }
        }

        return chosen;
    }

    /// <summary>The highest score within <paramref name="tolerance"/> of <paramref name="best"/>, measured past the rate-limit offset.</summary>
    internal static double Tolerated(double best, double tolerance) =>
        best >= RankingStrategy.RateLimitedOffset
            ? RankingStrategy.RateLimitedOffset + ((best - RankingStrategy.RateLimitedOffset) * (1 + tolerance))
            : best * (1 + tolerance);

    private readonly int RandomRemaining(Span<double> scores, Random random)
    {
        int k = random.Next(_remaining);
        for (int i = 0; i < _count; i++)
        {
            if (!double.IsNaN(scores[i]) && k-- == 0)
            {
                return i;
            }
        }

        return ArgMin(scores, _count);
    }

    private static int ArgMin(Span<double> scores, int count)
    {
        int best = -1;
        double bestScore = double.PositiveInfinity;
        for (int i = 0; i < count; i++)
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

    /// <summary>The strategy's first choice (<see cref="RankingStrategy.SelectFirst"/>), checked: an index out of range is the strategy's bug, named.</summary>
    private readonly int SelectFirst(ReadOnlySpan<Deployment> candidates, ReadOnlySpan<double> scores, in RequestScope scope, long now)
    {
        RankingStrategy strategy = _strategy!;
        int index = strategy.SelectFirstFor(new RankingContext(candidates, scope.Streaming, scope.Options, scope.Random, now), scores);
        if ((uint)index >= (uint)scores.Length)
        {
            ThrowIndexOutOfRange(strategy, index, scores.Length);
        }

        return index;
    }

    [DoesNotReturn]
    private static void ThrowIndexOutOfRange(RankingStrategy strategy, int index, int count) =>
        throw new InvalidOperationException(
            $"Ranking strategy '{strategy.GetType().Name}' returned {index} from SelectFirst; valid indexes are 0 to {count - 1}.");
}
