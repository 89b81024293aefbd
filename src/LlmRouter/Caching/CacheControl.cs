namespace LlmRouter;

/// <summary>Per-request cache controls, attached with <see cref="CachingChatOptionsExtensions.WithCacheControl"/>.</summary>
public sealed class CacheControl
{
    /// <summary>Gets or sets whether to skip the lookup (the answer is still stored unless <see cref="NoStore"/>).</summary>
    public bool NoCache { get; set; }

    /// <summary>Gets or sets whether to not store this request's answer.</summary>
    public bool NoStore { get; set; }

    /// <summary>
    /// Gets or sets how long this request's answer is kept; default <see cref="ResponseCacheOptions.TimeToLive"/>. Must be
    /// positive: a request with zero or a negative value fails with <see cref="ArgumentOutOfRangeException"/> before any
    /// provider call.
    /// </summary>
    public TimeSpan? TimeToLive { get; set; }

    /// <summary>Gets or sets the oldest cached answer this request accepts; older entries are treated as misses and replaced.</summary>
    public TimeSpan? MaxAge { get; set; }

    /// <summary>Gets or sets a namespace that separates this request's entries from others (for example a prompt version).</summary>
    public string? Namespace { get; set; }

    /// <summary>Gets or sets the tenant partition; entries of one partition are never served to another. Default: <see cref="ResponseCacheOptions.Partition"/>.</summary>
    public string? Partition { get; set; }
}
