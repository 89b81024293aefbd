namespace LlmRouter;

/// <summary>Counters of a <see cref="ResponseCacheChatClient"/> since it was created.</summary>
/// <param name="Hits">
/// Requests answered without a provider call of their own: from the cache, or (streaming) by joining an identical stream
/// already in flight.
/// </param>
/// <param name="Misses">Requests that went to the inner client.</param>
/// <param name="Bypassed">Requests the cache did not handle (conversation state, zero data retention, no-cache and no-store).</param>
/// <param name="OutputTokensSaved">Output tokens of the hits' answers (a joined stream's once it has been read to its end).</param>
/// <param name="InputTokensSaved">Input tokens of the hits' answers (a joined stream's once it has been read to its end).</param>
/// <param name="CostSavedUsd">What the stored answers served as hits cost when they were produced, in US dollars (known when the budget layer sits under the cache).</param>
public readonly record struct ResponseCacheStatistics(long Hits, long Misses, long Bypassed, long OutputTokensSaved, long InputTokensSaved, decimal CostSavedUsd);
