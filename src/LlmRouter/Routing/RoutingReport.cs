namespace LlmRouter;

/// <summary>
/// What the router did for one request: the route asked for, the deployment and route that served it, and every attempt
/// in order. Read it with <c>response.GetRoutingReport()</c> or <c>update.GetRoutingReport()</c>.
/// </summary>
public sealed class RoutingReport
{
    private readonly AttemptRecord _last;
    private readonly AttemptRecord[]? _earlier;

    internal RoutingReport(string requestedRoute, AttemptRecord last, AttemptRecord[]? earlier)
    {
        RequestedRoute = requestedRoute;
        _last = last;
        _earlier = earlier;
    }

    /// <summary>Gets the route the request named (or the default route).</summary>
    public string RequestedRoute { get; }

    /// <summary>Gets the name of the deployment that served the request.</summary>
    public string Deployment => _last.Deployment;

    /// <summary>Gets the route that served the request: the requested one, or a fallback.</summary>
    public string Route => _last.Route;

    /// <summary>Gets the number of attempts made, including the successful one.</summary>
    public int AttemptCount => (_earlier?.Length ?? 0) + 1;

    /// <summary>Gets every attempt in order; the last one succeeded.</summary>
    public IReadOnlyList<AttemptRecord> Attempts => _earlier is null ? [_last] : [.. _earlier, _last];

    /// <inheritdoc />
    public override string ToString() => $"{Deployment} via {Route} after {AttemptCount} attempt(s)";
}
