namespace LlmRouter;

/// <summary>
/// What the router did for one request: the route asked for, the deployment and route that served it, and every attempt
/// in order. Read it with <c>response.GetRoutingReport()</c> or <c>update.GetRoutingReport()</c>.
/// </summary>
public sealed class RoutingReport
{
    // The successful attempt is stored as its parts (56 bytes in all on 64-bit), not as an AttemptRecord: reports are
    // created on every request and most are read rarely, if ever.
    private readonly TimeSpan _duration;
    private readonly AttemptRecord[]? _earlier;

    internal RoutingReport(string requestedRoute, string deployment, string route, TimeSpan duration, AttemptRecord[]? earlier)
    {
        RequestedRoute = requestedRoute;
        Deployment = deployment;
        Route = route;
        _duration = duration;
        _earlier = earlier;
    }

    /// <summary>Gets the route the request named (or the default route).</summary>
    public string RequestedRoute { get; }

    /// <summary>Gets the name of the deployment that served the request.</summary>
    public string Deployment { get; }

    /// <summary>Gets the route that served the request: the requested one, or a fallback.</summary>
    public string Route { get; }

    /// <summary>Gets the number of attempts made, including the successful one.</summary>
    public int AttemptCount => (_earlier?.Length ?? 0) + 1;

    /// <summary>Gets every attempt in order; the last one succeeded.</summary>
    public IReadOnlyList<AttemptRecord> Attempts
    {
        get
        {
            var last = new AttemptRecord(Deployment, Route, AttemptOutcome.Succeeded, _duration);
            return _earlier is null ? [last] : [.. _earlier, last];
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Deployment} via {Route} after {AttemptCount} attempt(s)";
}
