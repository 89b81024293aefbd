using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// Per-request routing constraints, attached with <see cref="RoutingChatOptionsExtensions.WithRouteConstraints"/>.
/// They hold through every failover and fallback route: a request constrained to "eu" never reaches another region,
/// whatever fails.
/// </summary>
public sealed class RouteConstraints
{
    /// <summary>Gets or sets the regions the request may be served in (case-insensitive); <see langword="null"/> or empty allows any.</summary>
    public IReadOnlyList<string>? Regions { get; set; }

    /// <summary>Gets or sets whether only zero-data-retention deployments may serve the request.</summary>
    public bool RequireZeroDataRetention { get; set; }

    /// <summary>Gets or sets tags every serving deployment must carry (case-insensitive).</summary>
    public IReadOnlyList<string>? RequiredTags { get; set; }

    /// <summary>Gets or sets whether the route's fallback routes are skipped for this request.</summary>
    public bool DisableFallbacks { get; set; }

    /// <summary>Gets or sets the most attempts this request may make; <see langword="null"/> uses <see cref="LlmRouterOptions.MaxAttempts"/>.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>Routes this request may fall back to (set by the budget layer from scope policies); <see langword="null"/> allows any.</summary>
    internal IReadOnlyList<string>? AllowedRoutes { get; set; }

    /// <summary>Routes this request may not fall back to, and model ids no serving deployment may have (set by the budget layer).</summary>
    internal IReadOnlyList<string>? DeniedRoutes { get; set; }

    /// <summary>Whether the request may use this route of its fallback chain.</summary>
    internal bool AllowsRoute(string route) =>
        (AllowedRoutes is not { Count: > 0 } allowed || Contains(allowed, route)) && (DeniedRoutes is not { Count: > 0 } denied || !Contains(denied, route));

    /// <summary>A copy carrying these constraints and <paramref name="regions"/>, <paramref name="allowedRoutes"/> and <paramref name="deniedRoutes"/> on top.</summary>
    internal static RouteConstraints Narrow(RouteConstraints? existing, IReadOnlyList<string>? regions, IReadOnlyList<string>? allowedRoutes, IReadOnlyList<string>? deniedRoutes) => new()
    {
        Regions = regions ?? existing?.Regions,
        RequireZeroDataRetention = existing?.RequireZeroDataRetention ?? false,
        RequiredTags = existing?.RequiredTags,
        DisableFallbacks = existing?.DisableFallbacks ?? false,
        MaxAttempts = existing?.MaxAttempts,
        AllowedRoutes = allowedRoutes ?? existing?.AllowedRoutes,
        DeniedRoutes = deniedRoutes ?? existing?.DeniedRoutes,
    };

    internal bool Allows(Deployment deployment)
    {
        if (RequireZeroDataRetention && !deployment.ZeroDataRetention)
        {
            return false;
        }

        if (DeniedRoutes is { Count: > 0 } denied && Contains(denied, deployment.ModelId))
        {
            return false;
        }

        if (Regions is { Count: > 0 } regions && !Contains(regions, deployment.Region))
        {
            return false;
        }

        if (RequiredTags is { Count: > 0 } tags)
        {
            ReadOnlySpan<string> have = deployment.TagSpan;
            for (int i = 0; i < tags.Count; i++)
            {
                if (!Contains(have, tags[i]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static bool Contains(IReadOnlyList<string> list, string? value)
    {
        if (value is null)
        {
            return false;
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(ReadOnlySpan<string> list, string value)
    {
        foreach (string item in list)
        {
            if (string.Equals(item, value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
