using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// Describes a route (a model group): the name callers put in <see cref="ChatOptions.ModelId"/>, the deployments that
/// serve it, how they are ranked, and the routes to fall back to once they are exhausted.
/// </summary>
public sealed class RouteOptions
{
    /// <summary>Gets or sets the unique route name (case-insensitive), for example "fast" or "gpt-4o-mini". Required.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Gets the names of the deployments serving the route, in priority order (the order the Ordered strategy uses).</summary>
    public IList<string> Deployments { get; } = [];

    /// <summary>Gets the names of the routes to try, in order, once this route's deployments are exhausted.</summary>
    public IList<string> Fallbacks { get; } = [];

    /// <summary>
    /// Gets or sets the ranking strategy: "LowestLatency" (the default), "Ordered", "Weighted" (by <see cref="DeploymentOptions.Weight"/>,
    /// sticky per affinity key), "CostAware" (cheapest within <see cref="LatencyObjective"/>), "PriceWeighted" (random by
    /// 1 / price^2, as OpenRouter balances), or the name of a strategy
    /// registered with <c>LlmRouterBuilder.AddRankingStrategy</c>.
    /// </summary>
    public string Strategy { get; set; } = RouterDefaults.Strategy;

    /// <summary>Gets or sets the most attempts this route may use within one request. Default: no per-route cap.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>
    /// Gets or sets the latency objective of a "CostAware" route: the cheapest deployment whose recent expected latency
    /// (time to a successful answer; time to first update for streams) is within it serves the request.
    /// </summary>
    /// <value>Default <see langword="null"/>: the cheapest deployment, latency breaking ties. Ignored by other strategies.</value>
    public TimeSpan? LatencyObjective { get; set; }

    /// <summary>
    /// Gets or sets the route a request goes to when a deployment of this route refuses it under its content policy (an
    /// error the classifier marks <see cref="FailureKind.ContentFiltered"/>, or a non-streaming response that finished with
    /// <c>ChatFinishReason.ContentFilter</c>). Tried once per request, with its own fallbacks; a stream that is filtered
    /// after its first update cannot be moved.
    /// </summary>
    /// <value>Default <see langword="null"/>: content-policy refusals reach the caller.</value>
    public string? ContentPolicyFallback { get; set; }

    /// <summary>Gets or sets hedging for requests to this route (see <see cref="HedgingOptions"/>).</summary>
    /// <value>Default <see langword="null"/>: no hedging; one attempt at a time.</value>
    public HedgingOptions? Hedging { get; set; }

    /// <summary>Gets or sets prefix affinity: requests sharing a long prompt prefix prefer one deployment, for the provider's prompt cache (see <see cref="PrefixAffinityOptions"/>).</summary>
    /// <value>Default <see langword="null"/>: no affinity. Applies to "LowestLatency" and "CostAware" routes.</value>
    public PrefixAffinityOptions? PrefixAffinity { get; set; }
}
