namespace LlmRouter;

/// <summary>Options of deployment health: cooldowns after rate limits and bad credentials, and the circuit breaker.</summary>
public sealed class HealthOptions
{
    /// <summary>
    /// Gets or sets how long a deployment cools down after a rate-limit or overload response (429, 529) that carries
    /// no Retry-After. A Retry-After (or retry-after-ms) value is honoured instead, up to <see cref="MaxCooldown"/>. Default: 5 seconds.
    /// </summary>
    public TimeSpan RateLimitCooldown { get; set; } = RouterDefaults.RateLimitCooldown;

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
}
