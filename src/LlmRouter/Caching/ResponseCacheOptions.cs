using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>Options of <see cref="ResponseCacheChatClient"/>.</summary>
public sealed class ResponseCacheOptions
{
    /// <summary>Gets or sets whether the cache is used; <see langword="false"/> passes every request straight through (a configuration switch). Default: <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets how long answers are kept (in the distributed cache; the local copy is bounded by HybridCache's own settings). Default: 1 hour.</summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how a request's tenant partition is found when its <see cref="CacheControl"/> names none, for example
    /// from the current user. Entries of one partition are never served to another. Default: one shared partition.
    /// </summary>
    public Func<ChatOptions?, string?>? Partition { get; set; }
}
