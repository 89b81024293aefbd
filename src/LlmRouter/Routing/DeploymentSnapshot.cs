namespace LlmRouter;

/// <summary>
/// The state of one deployment at the moment of a <see cref="LlmRouterChatClient.GetSnapshot"/>: its status, the times
/// its cooldown and open circuit end, its latency estimates and its attempt counts.
/// </summary>
public sealed record DeploymentSnapshot
{
    internal DeploymentSnapshot()
    {
    }

    /// <summary>Gets the deployment's name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the model id sent to the provider, or <see langword="null"/> for the client's default.</summary>
    public string? ModelId { get; init; }

    /// <summary>Gets the region, if one was configured.</summary>
    public string? Region { get; init; }

    /// <summary>Gets whether the deployment can be selected now and, if not, the most severe reason (see <see cref="DeploymentStatus"/>).</summary>
    public DeploymentStatus Status { get; init; }

    /// <summary>Gets whether the router may select the deployment now (<see cref="Status"/> is <see cref="DeploymentStatus.Available"/>).</summary>
    public bool IsAvailable => Status == DeploymentStatus.Available;

    /// <summary>
    /// Gets whether the deployment has used its configured requests or tokens per minute for now
    /// (<see cref="DeploymentOptions.RequestsPerMinute"/>, <see cref="DeploymentOptions.TokensPerMinute"/>), or its
    /// provider's last rate-limit headers reported under 2% of a limit left (deployments whose HttpClient has
    /// <c>AddLlmResilienceHandler</c>): it stays available but ranks after the deployments with room left.
    /// </summary>
    public bool IsAtRateLimit { get; init; }

    /// <summary>Gets the circuit breaker's state.</summary>
    public CircuitState CircuitState { get; init; }

    /// <summary>Gets when the cooldown ends (UTC), or <see langword="null"/> when the deployment is not cooling down.</summary>
    public DateTimeOffset? CooldownUntil { get; init; }

    /// <summary>Gets when the open circuit's break ends and a probe may go through (UTC), or <see langword="null"/> when the circuit is not open or its break has passed.</summary>
    public DateTimeOffset? CircuitOpenUntil { get; init; }

    /// <summary>Gets the decayed mean duration of non-streaming attempts, normalised for output length, or <see langword="null"/> before the first sample.</summary>
    public TimeSpan? LatencyEstimate { get; init; }

    /// <summary>Gets the decayed mean time to the first update of streaming attempts, or <see langword="null"/> before the first sample.</summary>
    public TimeSpan? TimeToFirstTokenEstimate { get; init; }

    /// <summary>Gets the decayed share of recent attempts that failed, in [0, 1] (0 before any attempt; reset when a circuit closes).</summary>
    public double FailureRate { get; init; }

    /// <summary>Gets the number of successful attempts since start.</summary>
    public long SucceededAttempts { get; init; }

    /// <summary>Gets the number of failed attempts that counted against health since start (invalid requests and context-window overflows do not).</summary>
    public long FailedAttempts { get; init; }
}
