namespace LlmRouter;

/// <summary>
/// Options of the transport-level resilience that <c>AddLlmResilienceHandler</c> puts under a provider's HttpClient.
/// The layering: the transport retries only failures where the request provably never reached the provider
/// (connection refused, DNS, TLS, connect timeout); everything else (429, 5xx, 529, slow or hung responses) surfaces
/// at once so the router can fail over to another deployment, honour Retry-After with a cooldown, and record health.
/// </summary>
public sealed class LlmHttpResilienceOptions
{
    /// <summary>Gets or sets how many times a request that never reached the provider is retried on the same deployment. 0 disables. Default: 2.</summary>
    public int MaxConnectionRetries { get; set; } = 2;

    /// <summary>Gets or sets the base delay of the exponential, jittered back-off between connection retries. Default: 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets how long establishing a connection may take before it counts as a connection failure. Default: 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets an outer safety-net timeout for one HTTP request until its response headers arrive, including
    /// connection retries. Default: none, because the router's per-deployment <c>AttemptTimeout</c> and
    /// <c>TimeToFirstTokenTimeout</c> own timing (and a fixed HTTP timeout would cut off long generations).
    /// </summary>
    public TimeSpan? TotalTimeout { get; set; }
}
