namespace LlmRouter;

/// <summary>Which rule of a <see cref="ScopePolicy"/> a request broke.</summary>
public enum PolicyViolation
{
    /// <summary>The route or model is not in the scope's allowed routes.</summary>
    RouteNotAllowed,

    /// <summary>The route or model is in the scope's denied routes.</summary>
    RouteDenied,

    /// <summary>The request asked for regions the scope does not allow.</summary>
    RegionNotAllowed,

    /// <summary>The scope's requests-per-minute limit is reached.</summary>
    RequestRateExceeded,

    /// <summary>The scope's tokens-per-minute limit is reached.</summary>
    TokenRateExceeded,
}
