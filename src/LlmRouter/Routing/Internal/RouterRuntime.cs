using LlmRouter.Health.Internal;
using LlmRouter.Providers;
using Microsoft.Extensions.Logging;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// What every request of one router shares, fixed at construction: its routes and deployments, its clock and randomness,
/// the failure classifier, the options read once, and the observer that records outcomes (telemetry).
/// </summary>
internal sealed class RouterRuntime
{
    private int _disposed;

    public RouterRuntime(
        RouteTable routes,
        Deployment[] deployments,
        RouterClock clock,
        TrafficCounter traffic,
        Random random,
        FailureClassifier classifier,
        RouterSettings settings,
        ILogger logger,
        RetryAfterHints? retryAfterHints)
    {
        Routes = routes;
        Deployments = deployments;
        Clock = clock;
        Traffic = traffic;
        Random = random;
        Classifier = classifier;
        Settings = settings;
        Logger = logger;
        RetryAfterHints = retryAfterHints;
        Observer = new RoutingTelemetry(this);
    }

    public RouteTable Routes { get; }

    public Deployment[] Deployments { get; }

    public RouterClock Clock { get; }

    public TimeProvider Time => Clock.TimeProvider;

    /// <summary>The requests this router has begun (evidence about deployments fades with it).</summary>
    public TrafficCounter Traffic { get; }

    public Random Random { get; }

    public FailureClassifier Classifier { get; }

    public RouterSettings Settings { get; }

    public ILogger Logger { get; }

    /// <summary>Retry-After values the transport captured for SDKs whose exceptions drop headers.</summary>
    public RetryAfterHints? RetryAfterHints { get; }

    /// <summary>Where attempt and request outcomes are reported (spans, metrics and logs).</summary>
    public IRoutingObserver Observer { get; }

    /// <summary>Whether the router was disposed: requests are refused, and attempts its disposal cut off charge no health.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Marks the router disposed; returns false when it already was.</summary>
    public bool MarkDisposed() => Interlocked.Exchange(ref _disposed, 1) == 0;

    /// <summary>The route a request with this model id resolves to (null: the default route), or <see langword="null"/> for an unknown name.</summary>
    public CompiledRoute? Resolve(string? modelId) =>
        modelId is null ? Routes.Default : Routes.TryGet(modelId, out CompiledRoute route) ? route : null;

    /// <summary>
    /// The route a model id names, as a metric tag: the route's configured name, or "(unknown)" for a name no route has
    /// (a caller's typo must not create a time series).
    /// </summary>
    public string RouteTag(string? modelId) => Resolve(modelId)?.Name ?? Telemetry.RouterTelemetry.UnknownRoute;

    public Deployment? FindDeployment(string name)
    {
        foreach (Deployment d in Deployments)
        {
            if (string.Equals(d.Name, name, StringComparison.Ordinal))
            {
                return d;
            }
        }

        return null;
    }
}
