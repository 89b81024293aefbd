namespace LlmRouter;

/// <summary>Options of <see cref="ResilientDistributedCache"/>.</summary>
public sealed class ResilientDistributedCacheOptions
{
    /// <summary>
    /// Gets or sets how often, while the distributed cache is down, a background probe checks whether it is back: the
    /// first probe runs this long after the failure that showed the outage. Requests skip the distributed cache, without
    /// waiting on it, until a probe succeeds. Greater than zero and at most one day. Default: 5 seconds.
    /// </summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
