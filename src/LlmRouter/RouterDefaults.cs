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

    /// <summary>A Retry-After at least this long takes a deployment out of routing at once.</summary>
    public static readonly TimeSpan LongRetryAfter = TimeSpan.FromSeconds(10);

    /// <summary>The share of a sampling window's attempts answered 429/529 that takes a deployment out of routing.</summary>
    public const double RateLimitRatioThreshold = 0.2;

    /// <summary>The fewest 429/529 answers in a sampling window before their share can take a deployment out of routing.</summary>
    public const int MinimumRateLimitedToCool = 3;

    /// <summary>
    /// Requests the router must begin after a deployment's last outcome before evidence that has faded with time makes it
    /// cold again (probed optimistically): under light traffic a known-bad deployment is looked at again about once in
    /// this many requests, not every time a half-life passes.
    /// </summary>
    public const int RequestsBeforeReprobe = 20;
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
