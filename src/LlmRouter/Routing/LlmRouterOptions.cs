using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// Options of an <see cref="LlmRouterChatClient"/>: deployments, routes, ranking, health and failure classification.
/// Bound from the "LlmRouter" configuration section by <c>AddLlmRouter(configuration)</c> and validated at start-up.
/// </summary>
public sealed class LlmRouterOptions
{
    /// <summary>Gets the deployments the router may send requests to. At least one is required.</summary>
    public IList<DeploymentOptions> Deployments { get; } = [];

    /// <summary>
    /// Gets the routes. Besides these, every distinct <see cref="DeploymentOptions.ModelId"/> that is not a route name
    /// forms an implicit route of the deployments serving that model (LowestLatency, no fallbacks).
    /// </summary>
    public IList<RouteOptions> Routes { get; } = [];

    /// <summary>
    /// Gets or sets the route serving requests whose <see cref="ChatOptions.ModelId"/> is <see langword="null"/>.
    /// Default: an implicit route over all deployments, ranked LowestLatency.
    /// </summary>
    public string? DefaultRoute { get; set; }

    /// <summary>Gets or sets the most attempts one request may make, across its route and fallback routes. Default: 3.</summary>
    public int MaxAttempts { get; set; } = RouterDefaults.MaxAttempts;

    /// <summary>Gets the options of the LowestLatency strategy.</summary>
    public LatencyRankingOptions LatencyRanking { get; } = new();

    /// <summary>Gets the options of health tracking: cooldowns and the circuit breaker.</summary>
    public HealthOptions Health { get; } = new();

    /// <summary>
    /// Gets or sets the table that decides, for each failure, whether to fail over, cool the deployment down, or stop.
    /// Its status-code map can be changed in code or configuration ("FailureClassifier:StatusCodes:409": "Transient");
    /// a subclass can override <see cref="FailureClassifier.Classify(Exception)"/>.
    /// </summary>
    public FailureClassifier FailureClassifier { get; set; } = new();

    /// <summary>
    /// Gets or sets the source of randomness for exploration, near-tie spreading and weighted choice.
    /// Default: <see cref="System.Random.Shared"/>. Tests pass a seeded instance.
    /// </summary>
    public Random? Random { get; set; }

    /// <summary>Gets the custom ranking strategies by name, usable in <see cref="RouteOptions.Strategy"/>.</summary>
    public IDictionary<string, RankingStrategy> Strategies { get; } = new Dictionary<string, RankingStrategy>(StringComparer.OrdinalIgnoreCase);
}
