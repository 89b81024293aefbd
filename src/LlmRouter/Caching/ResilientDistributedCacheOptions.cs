namespace LlmRouter;

/// <summary>Options of <see cref="ResilientDistributedCache"/>.</summary>
public sealed class ResilientDistributedCacheOptions
{
    /// <summary>
    /// Gets or sets how long, after a failure, the distributed cache is skipped before it is tried again, so an outage
    /// does not cost every request a connection timeout. Default: 5 seconds.
    /// </summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
