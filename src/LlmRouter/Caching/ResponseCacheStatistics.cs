namespace LlmRouter;

/// <summary>Counters of a <see cref="ResponseCacheChatClient"/> since it was created.</summary>
/// <param name="Hits">Requests answered from the cache.</param>
/// <param name="Misses">Requests that went to the inner client.</param>
/// <param name="Bypassed">Requests the cache did not handle (conversation state, zero data retention, no-cache and no-store).</param>
/// <param name="OutputTokensSaved">Output tokens of the answers served from the cache.</param>
/// <param name="InputTokensSaved">Input tokens of the answers served from the cache.</param>
public readonly record struct ResponseCacheStatistics(long Hits, long Misses, long Bypassed, long OutputTokensSaved, long InputTokensSaved);
