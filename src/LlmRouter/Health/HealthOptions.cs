namespace LlmRouter;

/// <summary>Options of deployment health: cooldowns after rate limits and bad credentials, and the circuit breaker.</summary>
public sealed class HealthOptions
{
    /// <summary>
    /// Gets or sets how long a rate-limit or overload response (429, 529) without a Retry-After affects a deployment. A
    /// Retry-After (or retry-after-ms) value is honoured instead, up to <see cref="MaxCooldown"/>. Default: 5 seconds.
    /// </summary>
    /// <remarks>
    /// A 429 is evidence, not a verdict. The deployment cools down (leaves routing) for that long only on a real limit
    /// signal: a Retry-After of at least <see cref="LongRetryAfter"/>, the deployment's declared or reported rate limit
    /// already used up, or at least <see cref="RateLimitRatioThreshold"/> of its attempts in the
    /// <see cref="SamplingDuration"/> window answered 429/529 (three at least). A sporadic 429 among successes only ranks
    /// the deployment after the others for that long, keeping it as a last resort.
    /// </remarks>
    public TimeSpan RateLimitCooldown { get; set; } = RouterDefaults.RateLimitCooldown;

    /// <summary>
    /// Gets or sets the shortest Retry-After on a 429/529 that takes the deployment out of routing at once (see
    /// <see cref="RateLimitCooldown"/>); a shorter one only ranks it last until it passes. Default: 10 seconds.
    /// </summary>
    public TimeSpan LongRetryAfter { get; set; } = RouterDefaults.LongRetryAfter;

    /// <summary>
    /// Gets or sets the share (0 to 1] of a deployment's attempts in the <see cref="SamplingDuration"/> window answered
    /// 429/529 at which a rate limit takes it out of routing (once three were). Default: 0.2.
    /// </summary>
    public double RateLimitRatioThreshold { get; set; } = RouterDefaults.RateLimitRatioThreshold;

    /// <summary>Gets or sets how long a deployment cools down after 401, 403 or 404 (bad key, missing model). Default: 5 minutes.</summary>
    public TimeSpan MisconfiguredCooldown { get; set; } = RouterDefaults.MisconfiguredCooldown;

    /// <summary>Gets or sets the longest cooldown a provider's Retry-After may impose. Default: 10 minutes.</summary>
    public TimeSpan MaxCooldown { get; set; } = RouterDefaults.MaxCooldown;

    /// <summary>Gets or sets how many consecutive failures open the circuit. Default: 5.</summary>
    public int ConsecutiveFailureThreshold { get; set; } = RouterDefaults.ConsecutiveFailureThreshold;

    /// <summary>
    /// Gets or sets the failure ratio (0 to 1] over <see cref="SamplingDuration"/> that opens the circuit once
    /// <see cref="MinimumThroughput"/> attempts were made in the window. Default: 0.5.
    /// </summary>
    public double FailureRatioThreshold { get; set; } = RouterDefaults.FailureRatioThreshold;

    /// <summary>Gets or sets how many attempts a sampling window needs before its failure ratio counts. Default: 10.</summary>
    public int MinimumThroughput { get; set; } = RouterDefaults.MinimumThroughput;

    /// <summary>Gets or sets the length of the window the failure ratio is measured over. Default: 30 seconds.</summary>
    public TimeSpan SamplingDuration { get; set; } = RouterDefaults.SamplingDuration;

    /// <summary>
    /// Gets or sets how long an open circuit stays open before one probe request is let through (half-open);
    /// success closes it, failure opens it again. Default: 30 seconds.
    /// </summary>
    public TimeSpan BreakDuration { get; set; } = RouterDefaults.BreakDuration;

    /// <summary>
    /// Gets or sets how many half-open probes in a row must succeed before an open circuit closes. After each success but
    /// the last the next request probes again at once; any failure reopens the circuit for a full <see cref="BreakDuration"/>.
    /// More than one keeps a provider in a partial outage (a few calls still succeed) from closing on a lucky probe and
    /// flapping; the routing simulation measured the difference (see docs/benchmarks.md). Default: 2.
    /// </summary>
    public int ProbesToClose { get; set; } = RouterDefaults.ProbesToClose;

    /// <summary>
    /// Gets or sets whether, when every deployment of a request's routes is cooling down or open, the router makes one
    /// attempt at the deployment that failed least recently instead of failing fast. Default: <see langword="false"/>
    /// (fail fast with <see cref="NoAvailableDeploymentException"/>).
    /// </summary>
    public bool AttemptWhenAllUnavailable { get; set; }

    /// <summary>A frozen copy for a running router: every setting is a value, so a memberwise copy is complete.</summary>
    internal HealthOptions Freeze() => (HealthOptions)MemberwiseClone();
}
