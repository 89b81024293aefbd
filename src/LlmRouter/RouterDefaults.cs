namespace LlmRouter;

/// <summary>Every default of the router in one place; option docs quote these values.</summary>
internal static class RouterDefaults
{
    public const string ConfigurationSection = "LlmRouter";
    public const string ImplicitDefaultRouteName = "*";
    public const int MaxAttempts = 3;
    public const double Weight = 1.0;

    public const string LowestLatency = "LowestLatency";
    public const string Ordered = "Ordered";
    public const string Weighted = "Weighted";
    public const string CostAware = "CostAware";
    public const string PriceWeighted = "PriceWeighted";
    public const string Strategy = LowestLatency;

    // Latency ranking.
    public static readonly TimeSpan LatencyHalfLife = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);
    public const int MinimumSamples = 3;
    public const double ExplorationRate = 0.02;
    public const double LatencyBuffer = 0.10;
    public const int ReferenceOutputTokens = 256;
    public const int MaxConcurrentColdProbes = 1;
    public const double MaxFailureRateForScore = 0.9;

    // Health.
    public static readonly TimeSpan RateLimitCooldown = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MisconfiguredCooldown = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxCooldown = TimeSpan.FromMinutes(10);
    public const int ConsecutiveFailureThreshold = 5;
    public const double FailureRatioThreshold = 0.5;
    public const int MinimumThroughput = 10;
    public static readonly TimeSpan SamplingDuration = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(30);
    public const int ProbesToClose = 2;

    // Declared provider rate limits: the burst a quota may take at once, in seconds of its rate.
    public const int RateLimitBurstSeconds = 10;
}
