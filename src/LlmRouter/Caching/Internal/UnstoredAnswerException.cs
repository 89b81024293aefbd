namespace LlmRouter.Caching.Internal;

/// <summary>
/// Fails a HybridCache factory whose answer must not be stored (HybridCache stores whatever a factory returns), carrying
/// the answer to every caller that joined the miss. Never leaves <see cref="ResponseCacheChatClient"/>.
/// </summary>
internal sealed class UnstoredAnswerException : Exception
{
    public UnstoredAnswerException(CachedResponse entry)
        : base("The answer is not to be stored.")
    {
        Entry = entry;
    }

    /// <summary>The answer, serialised as an entry so each caller gets its own copy.</summary>
    public CachedResponse Entry { get; }
}
