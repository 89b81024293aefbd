using LlmRouter.Health.Internal;
using LlmRouter.Routing.Internal;

namespace LlmRouter;

public sealed partial class LlmRouterChatClient
{
    /// <summary>
    /// Takes a snapshot of the router's state: each deployment's status, cooldown, circuit, latency estimates and attempt
    /// counts, and each route's deployments in the order a request would try them now (see <see cref="RouteSnapshot.Deployments"/>).
    /// </summary>
    /// <remarks>
    /// Reading the state changes nothing: no random draw, no exploration, no cold or half-open probe slot is taken, and
    /// custom ranking strategies are not called, so routing after a snapshot is the same as without it. Every time in
    /// the snapshot is taken from one reading of the router's clock. Meant for dashboards and health checks, not for the
    /// request path: it allocates the whole snapshot.
    /// </remarks>
    /// <returns>The snapshot.</returns>
    public RouterSnapshot GetSnapshot()
    {
        long now = _runtime.Clock.Now();
        DateTimeOffset takenAt = _runtime.Time.GetUtcNow();

        var deployments = new DeploymentSnapshot[_runtime.Deployments.Length];
        for (int i = 0; i < deployments.Length; i++)
        {
            deployments[i] = Snapshot(_runtime.Deployments[i], now, takenAt);
        }

        var routes = new List<RouteSnapshot>(_runtime.Routes.Names.Count + 1);
        bool defaultListed = false;
        foreach (string name in _runtime.Routes.Names)
        {
            // Configured routes (and the default): the per-model-id routes the router makes repeat their deployments.
            if (_runtime.Routes.TryGet(name, out CompiledRoute route) && (!route.IsImplicit || ReferenceEquals(route, _runtime.Routes.Default)))
            {
                bool isDefault = ReferenceEquals(route, _runtime.Routes.Default);
                defaultListed |= isDefault;
                routes.Add(Snapshot(route, isDefault, deployments, now));
            }
        }

        if (!defaultListed)
        {
            routes.Add(Snapshot(_runtime.Routes.Default, isDefault: true, deployments, now));
        }

        return new RouterSnapshot { TakenAt = takenAt, Deployments = deployments, Routes = routes };
    }

    private DeploymentSnapshot Snapshot(Deployment d, long now, DateTimeOffset takenAt)
    {
        DeploymentHealth health = d.Health;
        CircuitState circuit = health.State;
        long cooldownUntil = health.CooldownUntil;
        long openUntil = health.OpenUntil;
        bool coolingDown = now < cooldownUntil;
        bool breakRunning = circuit == CircuitState.Open && now < openUntil;

        // The most severe reason first (DeploymentStatus is declared in order of severity).
        DeploymentStatus status =
            d.IsHeld(now) ? DeploymentStatus.OutOfBudget
            : breakRunning ? DeploymentStatus.CircuitOpen
            : coolingDown ? DeploymentStatus.CoolingDown
            : circuit == CircuitState.HalfOpen ? DeploymentStatus.CircuitHalfOpen
            : DeploymentStatus.Available;

        (long succeeded, long failed) = d.AttemptCounts;
        return new DeploymentSnapshot
        {
            Name = d.Name,
            ModelId = d.ModelId,
            Region = d.Region,
            Status = status,
            IsAtRateLimit = d.IsAtRateLimit,
            CircuitState = circuit,
            CooldownUntil = coolingDown ? takenAt + _runtime.Clock.Elapsed(now, cooldownUntil) : null,
            CircuitOpenUntil = breakRunning ? takenAt + _runtime.Clock.Elapsed(now, openUntil) : null,
            LatencyEstimate = d.GetLatencyEstimate(streaming: false),
            TimeToFirstTokenEstimate = d.GetLatencyEstimate(streaming: true),
            FailureRate = d.FailureRate,
            SucceededAttempts = succeeded,
            FailedAttempts = failed,
        };
    }

    private static RouteSnapshot Snapshot(CompiledRoute route, bool isDefault, DeploymentSnapshot[] deployments, long now)
    {
        Deployment[] members = route.Members;
        var available = new List<(Deployment Deployment, double Score)>(members.Length);
        var unavailable = new List<Deployment>();
        for (int i = 0; i < members.Length; i++)
        {
            Deployment d = members[i];
            if (deployments[d.Index].IsAvailable)
            {
                double score = Score(route.Strategy, d, i, now);
                available.Add((d, deployments[d.Index].IsAtRateLimit ? score + RankingStrategy.RateLimitedOffset : score));
            }
            else
            {
                unavailable.Add(d);
            }
        }

        var ranked = new RankedDeployment[members.Length];
        int rank = 0;

        // OrderBy is stable: equal scores keep configuration order, as the router's first-lowest scan does.
        foreach ((Deployment d, _) in available.OrderBy(c => c.Score))
        {
            ranked[rank] = new RankedDeployment { Rank = rank + 1, Name = d.Name, IsAvailable = true };
            rank++;
        }

        foreach (Deployment d in unavailable)
        {
            ranked[rank] = new RankedDeployment { Rank = rank + 1, Name = d.Name, IsAvailable = false };
            rank++;
        }

        string[] fallbacks = new string[route.Chain.Length - 1];
        for (int i = 1; i < route.Chain.Length; i++)
        {
            fallbacks[i - 1] = route.Chain[i].Name;
        }

        return new RouteSnapshot
        {
            Name = route.Name,
            IsDefault = isDefault,
            Deployments = ranked,
            Fallbacks = fallbacks,
            AvailableCount = available.Count,
        };
    }

    /// <summary>A side-effect-free sort key for an available member: lower is tried first.</summary>
    private static double Score(RankingStrategy strategy, Deployment d, int position, long now) => strategy switch
    {
        // The strategy's own score: it only reads published statistics (cold and due-for-probe deployments score 0).
        LowestLatencyStrategy => LowestLatencyStrategy.Score(d, streaming: false, now),

        // The most likely order of the weighted draw.
        WeightedStrategy => -d.Weight,

        // Ordered, and custom strategies, whose Score may keep state of its own: configuration order.
        _ => position,
    };
}
