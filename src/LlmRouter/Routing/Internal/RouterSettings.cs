namespace LlmRouter.Routing.Internal;

/// <summary>
/// The router-wide options, frozen when the router is built: later changes to the <see cref="LlmRouterOptions"/> instance
/// have no effect on a running router.
/// </summary>
internal sealed record RouterSettings
{
    /// <summary>The most attempts of one request, across its route and fallbacks.</summary>
    public required int MaxAttempts { get; init; }

    /// <summary>A frozen copy of <see cref="LlmRouterOptions.LatencyRanking"/>.</summary>
    public required LatencyRankingOptions Latency { get; init; }

    /// <summary>A frozen copy of <see cref="LlmRouterOptions.Health"/>.</summary>
    public required HealthOptions Health { get; init; }

    public static RouterSettings From(LlmRouterOptions options) => new()
    {
        MaxAttempts = options.MaxAttempts,
        Latency = options.LatencyRanking.Freeze(),
        Health = options.Health.Freeze(),
    };
}
