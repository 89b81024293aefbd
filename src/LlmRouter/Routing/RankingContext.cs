using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>What a <see cref="RankingStrategy"/> sees of one request.</summary>
public readonly ref struct RankingContext
{
    internal RankingContext(ReadOnlySpan<Deployment> candidates, bool isStreaming, ChatOptions? options, Random random, long timestamp)
    {
        Candidates = candidates;
        IsStreaming = isStreaming;
        Options = options;
        Random = random;
        Timestamp = timestamp;
    }

    /// <summary>Gets the eligible deployments, in the route's order.</summary>
    public ReadOnlySpan<Deployment> Candidates { get; }

    /// <summary>Gets whether the request is streaming.</summary>
    public bool IsStreaming { get; }

    /// <summary>Gets the caller's options (<see cref="ChatOptions.ModelId"/> is the route name).</summary>
    public ChatOptions? Options { get; }

    /// <summary>Gets the router's source of randomness.</summary>
    public Random Random { get; }

    /// <summary>Gets the router's current monotonic timestamp (comparable only with other timestamps of the same router).</summary>
    public long Timestamp { get; }
}
