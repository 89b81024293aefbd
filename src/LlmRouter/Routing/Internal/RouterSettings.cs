namespace LlmRouter.Routing.Internal;

/// <summary>
/// The router-wide options, frozen when the router is built: later changes to the <see cref="LlmRouterOptions"/> instance
/// have no effect on a running router.
/// </summary>
internal sealed record RouterSettings
{
    /// <summary>The most attempts of one request, across its route and fallbacks.</summary>
    public required int MaxAttempts { get; init; }

    /// <summary>A copy of <see cref="LlmRouterOptions.LatencyRanking"/>.</summary>
    public required LatencyRankingOptions Latency { get; init; }

    /// <summary>A copy of <see cref="LlmRouterOptions.Health"/>.</summary>
    public required HealthOptions Health { get; init; }

    public static RouterSettings From(LlmRouterOptions options) => new()
    {
        MaxAttempts = options.MaxAttempts,
        Latency = Copy(options.LatencyRanking),
        Health = Copy(options.Health),
    };

    private static LatencyRankingOptions Copy(LatencyRankingOptions from) => new()
    {
        HalfLife = from.HalfLife,
        StaleAfter = from.StaleAfter,
        MinimumSamples = from.MinimumSamples,
        ExplorationRate = from.ExplorationRate,
        LatencyBuffer = from.LatencyBuffer,
        ReferenceOutputTokens = from.ReferenceOutputTokens,
        MaxConcurrentColdProbes = from.MaxConcurrentColdProbes,
    };

    private static HealthOptions Copy(HealthOptions from) => new()
    {
        RateLimitCooldown = from.RateLimitCooldown,
        LongRetryAfter = from.LongRetryAfter,
        RateLimitRatioThreshold = from.RateLimitRatioThreshold,
        MisconfiguredCooldown = from.MisconfiguredCooldown,
        MaxCooldown = from.MaxCooldown,
        ConsecutiveFailureThreshold = from.ConsecutiveFailureThreshold,
        FailureRatioThreshold = from.FailureRatioThreshold,
        MinimumThroughput = from.MinimumThroughput,
        SamplingDuration = from.SamplingDuration,
        BreakDuration = from.BreakDuration,
        ProbesToClose = from.ProbesToClose,
        AttemptWhenAllUnavailable = from.AttemptWhenAllUnavailable,
    };
}
