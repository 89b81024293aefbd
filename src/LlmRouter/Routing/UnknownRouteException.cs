namespace LlmRouter;

/// <summary>Thrown before any provider call when <c>ChatOptions.ModelId</c> names no route.</summary>
public sealed class UnknownRouteException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The unknown name.</param>
    /// <param name="knownRoutes">The routes that exist.</param>
    public UnknownRouteException(string route, IReadOnlyList<string> knownRoutes)
        : base(route, $"No route named '{route}'. Known routes: {string.Join(", ", (knownRoutes ?? throw new ArgumentNullException(nameof(knownRoutes))).Select(r => $"'{r}'"))}. Set ChatOptions.ModelId to one of them, or to null for the default route.")
    {
        KnownRoutes = knownRoutes;
    }

    /// <summary>Gets the names of the routes that exist.</summary>
    public IReadOnlyList<string> KnownRoutes { get; }
}
