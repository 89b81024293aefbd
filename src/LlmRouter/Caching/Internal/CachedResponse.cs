using System.ComponentModel;

namespace LlmRouter.Caching.Internal;

/// <summary>
/// A cached answer: the response as JSON (so every hit deserialises fresh objects the caller may change) and when it
/// was produced. Immutable, so HybridCache's local tier hands out the same instance without copying.
/// </summary>
[ImmutableObject(true)]
internal sealed class CachedResponse
{
    public CachedResponse(byte[] json, DateTimeOffset createdAt)
    {
        Json = json;
        CreatedAt = createdAt;
    }

    public byte[] Json { get; }

    public DateTimeOffset CreatedAt { get; }
}
