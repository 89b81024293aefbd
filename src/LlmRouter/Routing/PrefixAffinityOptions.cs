namespace LlmRouter;

/// <summary>
/// Prefix affinity for a route (<see cref="RouteOptions.PrefixAffinity"/>): requests that start with the same long prompt
/// prefix (a system prompt, a document, a conversation so far) prefer the same deployment, so the provider's own prompt
/// cache (OpenAI's automatic caching, Anthropic's cache breakpoints) hits and the cached input tokens are billed at the
/// cached price.
/// </summary>
/// <remarks>
/// The prefix (instructions, then each message's text in order) is hashed over its first <see cref="MinimumPrefixLength"/>
/// characters; the deployment is chosen by rendezvous hashing among those whose expected latency is within
/// <see cref="LatencyTolerance"/> of the best, so a slow or unavailable deployment loses its prefixes (to their next
/// choice) and gets them back when it recovers. Requests with a shorter prompt are ranked as usual.
/// </remarks>
public sealed class PrefixAffinityOptions
{
    /// <summary>Gets or sets how many leading characters of the prompt make the prefix; shorter prompts get no affinity.</summary>
    /// <value>Default 4,096 (about 1,024 tokens of English: the smallest prefix OpenAI and Anthropic cache).</value>
    public int MinimumPrefixLength { get; set; } = 4_096;

    /// <summary>
    /// Gets or sets how much slower than the best deployment (in expected latency, as a fraction) the prefix's
    /// deployment may be and still get the request.
    /// </summary>
    /// <value>Default 0.5: up to 50% slower. 0 keeps affinity only among exact ties.</value>
    public double LatencyTolerance { get; set; } = 0.5;
}
