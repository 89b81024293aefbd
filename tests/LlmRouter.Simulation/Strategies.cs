namespace LlmRouter.Simulation;

/// <summary>What a strategy configures: the router's options and the simulated route, before the router is built.</summary>
/// <param name="Options">The router's options: deployments (one per provider, with price and attempt timeout) are already in.</param>
/// <param name="Route">The route every request uses; its strategy is LowestLatency unless the row changes it.</param>
/// <param name="Run">The run: virtual time, the harness's observations of each deployment, and the scenario's truth.</param>
public sealed record StrategySetup(LlmRouterOptions Options, RouteOptions Route, SimulationRun Run)
{
    /// <summary>Registers a custom ranking strategy and makes the route use it.</summary>
    public void Use(string name, RankingStrategy strategy)
    {
        Options.Strategies[name] = strategy;
        Route.Strategy = name;
    }
}

/// <summary>One row of the comparison: a key for the command line, a label for the tables, and how it configures the router.</summary>
public sealed record StrategySpec(string Key, string Label, string Description, Action<StrategySetup> Configure);

/// <summary>
/// The strategies compared. Every row runs the real router with its health rules (cooldowns, circuit breaker,
/// failover, attempt timeouts); only the ranking (and, for one row, hedging) differs. A new row is one line here.
/// </summary>
public static class Strategies
{
    /// <summary>The latency objective of the cost-aware row: about 1.3x the fastest provider's normal latency.</summary>
    public static readonly TimeSpan CostAwareObjective = TimeSpan.FromSeconds(3);

    /// <summary>The comparison rows, in table order.</summary>
    public static IReadOnlyList<StrategySpec> All { get; } =
    [
        new("lowest-latency", "LowestLatency (ours)", "The router's default: decayed, failure-aware latency ranking with bounded cold probes.", _ => { }),
        new("rate-limits", "LowestLatency + declared rate limits", "Ours, with each deployment's requests per minute configured as the provider has it (RequestsPerMinute).",
            s => DeclareRateLimits(s)),
        new("reported-rate-limits", "LowestLatency + rate limits from provider headers", "Ours, with no limit declared: the providers send OpenAI-style rate-limit headers with every answer and the router reads them (what AddLlmResilienceHandler does).",
            s => s.Run.ProvidersReportRateLimits = true),
        new("hedging", "LowestLatency + hedging (whole answer)", "Ours, plus a hedge when the first attempt has not answered within its deployment's p95 answer time (3 s until it has data), at most 1 per request and 10% of requests.",
            s => s.Route.Hedging = Hedging(onFirstUpdate: false)),
        new("hedging-first-update", "LowestLatency + hedging on first update", "As above, but the attempts stream underneath and the hedge starts when no first update came within the deployment's p95 time to first update (OnFirstUpdate).",
            s => s.Route.Hedging = Hedging(onFirstUpdate: true)),
        new("hedging-rate-limits", "LowestLatency + hedging on first update + declared rate limits", "The two rows above combined: hedging on first update, RequestsPerMinute declared.",
            s => { s.Route.Hedging = Hedging(onFirstUpdate: true); DeclareRateLimits(s); }),
        new("hedging-reported-rate-limits", "LowestLatency + hedging on first update + rate limits from provider headers", "Hedging on first update, no limit declared, the providers' rate-limit headers read.",
            s => { s.Route.Hedging = Hedging(onFirstUpdate: true); s.Run.ProvidersReportRateLimits = true; }),
        new("cost-aware", "CostAware (3 s objective)", "The router's CostAware strategy: the cheapest deployment whose expected latency is within 3 s.",
            s => { s.Route.Strategy = "CostAware"; s.Route.LatencyObjective = CostAwareObjective; }),
        new("round-robin", "Round-robin", "Each request starts at the next deployment in turn.", s => s.Use("RoundRobin", new RoundRobinStrategy(s.Run))),
        new("random", "Random (LiteLLM simple-shuffle)", "Uniformly random order: the built-in Weighted strategy with equal weights.", s => s.Route.Strategy = "Weighted"),
        new("litellm-latency", "LiteLLM lowest latency", "Mean of the last 10 successful latencies, no decay; unmeasured deployments first.", s => s.Use("LastTenMean", new LastTenMeanStrategy(s.Run))),
        new("openrouter-price", "OpenRouter 1/price^2", "The router's PriceWeighted strategy: random, weighted by 1 / (blended price)^2.", s => s.Route.Strategy = "PriceWeighted"),
        new("p2c-peak-ewma", "P2C over peak EWMA", "Two random deployments; the lower peak-EWMA latency x (in flight + 1) goes first.", s => s.Use("PowerOfTwoPeakEwma", new PowerOfTwoPeakEwmaStrategy(s.Run))),
        new("oracle", "Oracle", "Knows the true mean latency of each provider at each moment, and the outage.", s => s.Use("Oracle", new OracleStrategy(s.Run))),
    ];

    /// <summary>The hedging rows' settings: p95 delay (3 s until a deployment has data), one hedge per request, 10% of requests.</summary>
    public static HedgingOptions Hedging(bool onFirstUpdate) =>
        new() { DelayPercentile = 0.95, Delay = TimeSpan.FromSeconds(3), MaxExtraAttempts = 1, MaxHedgedShare = 0.1, OnFirstUpdate = onFirstUpdate };

    /// <summary>Configures every deployment's <see cref="DeploymentOptions.RequestsPerMinute"/> as its provider's limit.</summary>
    public static void DeclareRateLimits(StrategySetup setup)
    {
        foreach (DeploymentOptions d in setup.Options.Deployments)
        {
            d.RequestsPerMinute = setup.Run.Scenario.Providers.Single(p => p.Name == d.Name).RequestsPerMinute;
        }
    }

    /// <summary>Finds rows by key (case-insensitive), in the order given.</summary>
    public static IReadOnlyList<StrategySpec> Select(IEnumerable<string> keys) =>
    [
        .. keys.Select(k => All.FirstOrDefault(s => string.Equals(s.Key, k, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown strategy '{k}'. Known: {string.Join(", ", All.Select(s => s.Key))}.", nameof(keys))),
    ];
}
