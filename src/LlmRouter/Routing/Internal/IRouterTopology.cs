namespace LlmRouter.Routing.Internal;

/// <summary>
/// What the layers above the router (budgets, monitoring) may know of it: its deployments and routes, read-only, and one
/// write, a hold that keeps a deployment out of routing (the availability seam). Found with
/// <c>IChatClient.GetService(typeof(IRouterTopology))</c> through any middleware, so no layer needs the router's type.
/// </summary>
internal interface IRouterTopology
{
    /// <summary>The deployments, in the order they were configured.</summary>
    IReadOnlyList<Deployment> Deployments { get; }

    /// <summary>The names callers can use as <c>ChatOptions.ModelId</c>: explicit and implicit routes.</summary>
    IReadOnlyList<string> Routes { get; }

    /// <summary>The name of the route a model id resolves to (<see langword="null"/>: the default route), or <see langword="null"/> when no route has that name.</summary>
    string? ResolveRouteName(string? modelId);

    /// <summary>The routes a request to <paramref name="routeName"/> (<see langword="null"/>: the default route) tries, in order, with their members.</summary>
    IEnumerable<(string Route, IReadOnlyList<Deployment> Members)> Chain(string? routeName);

    /// <summary>Every deployment a request to <paramref name="routeName"/> may reach: its members and those of its fallbacks, once each.</summary>
    IEnumerable<Deployment> Reachable(string? routeName);

    /// <summary>How many attempts of one request to this route may run at once: 1, or 1 + the hedges its hedging allows.</summary>
    int MaxConcurrentAttempts(string? routeName);

    /// <summary>The route a model id names, as a metric tag: its configured name, or "(unknown)" (a typo must not create a time series).</summary>
    string RouteTag(string? modelId);

    /// <summary>Keeps <paramref name="deployment"/> out of routing until <paramref name="until"/> (<see cref="DateTimeOffset.MaxValue"/>: for good).</summary>
    void HoldOut(Deployment deployment, DateTimeOffset until);
}
