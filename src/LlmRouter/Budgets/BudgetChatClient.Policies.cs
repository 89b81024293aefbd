using System.Collections.Frozen;
using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmRouter;

// Scope policy rules: allowed and denied routes and regions, output caps, rate limits, and the routes their lists limit.
public sealed partial class BudgetChatClient
{
    /// <summary>
    /// The routes (by the key requests use: route name or "" for the default) whose fallback chain reaches a route the
    /// policy's allowed or denied lists exclude, or a deployment whose model the denied list names: requests to them carry
    /// the lists to the router, which skips what they exclude. Requests to other routes pay nothing for the lists.
    /// </summary>
    private static FrozenSet<string>? FallbackLimitedRoutes(IRouterTopology router, ScopePolicy policy)
    {
        if (policy.AllowedRoutes.Count == 0 && policy.DeniedRoutes.Count == 0)
        {
            return null;
        }

        var limited = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in router.Routes.Append(string.Empty))
        {
            bool first = true;
            foreach ((string name, IReadOnlyList<Deployment> members) in router.Chain(key.Length == 0 ? null : key))
            {
                bool excluded = !first && ((policy.AllowedRoutes.Count > 0 && !Contains(policy.AllowedRoutes, name)) || Contains(policy.DeniedRoutes, name));
                first = false;
                if (excluded || members.Any(d => d.ModelId is { } model && Contains(policy.DeniedRoutes, model)))
                {
                    limited.Add(key);
                    break;
                }
            }
        }

        return limited.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    private static TokenRates? WorstRates(IEnumerable<Deployment> deployments)
    {
        TokenRates? worst = null;
        foreach (Deployment d in deployments)
        {
            if (d.Price is { } p)
            {
                TokenRates rates = TokenRates.From(p);
                worst = worst is { } w ? TokenRates.Max(w, rates) : rates;
            }
        }

        return worst;
    }

    private static string RouteLabel(string route) => route.Length == 0 ? RouterDefaults.ImplicitDefaultRouteName : route;

    /// <summary>Applies every scope's rules to the request (possibly replacing its options) and returns the budget accounts of the path.</summary>
    private BudgetAccount[] CheckPolicies(ScopePath path, string route, ref ChatOptions? options, int promptTokens, DateTimeOffset now, bool streaming, IEnumerable<ChatMessage> messages)
    {
        ResolvedPath resolved = _policies.Resolve(path);
        int? cap = null;
        List<string>? regions = null;
        List<string>? allowedRoutes = null;
        List<string>? deniedRoutes = null;
        ScopeRuntime[] scopes = resolved.RuleScopes;
        for (int i = 0; i < scopes.Length; i++)
        {
            ScopeRuntime scope = scopes[i];
            ScopePolicy p = scope.Policy;
            string routeName = RouteLabel(route);
            if (p.AllowedRoutes.Count > 0 && !Contains(p.AllowedRoutes, routeName))
            {
                throw Deny(path, route, scope, PolicyViolation.RouteNotAllowed, $"route '{routeName}' is not allowed; allowed: {string.Join(", ", p.AllowedRoutes)}.", null, now, streaming, messages);
            }

            if (p.DeniedRoutes.Count > 0 && Contains(p.DeniedRoutes, routeName))
            {
                throw Deny(path, route, scope, PolicyViolation.RouteDenied, $"route '{routeName}' is denied.", null, now, streaming, messages);
            }

            IReadOnlyList<string>? askedRegions = options.GetRouteConstraints()?.Regions;
            if (p.AllowedRegions.Count > 0 && askedRegions is { Count: > 0 })
            {
                for (int r = 0; r < askedRegions.Count; r++)
                {
                    if (!Contains(p.AllowedRegions, askedRegions[r]))
                    {
                        throw Deny(path, route, scope, PolicyViolation.RegionNotAllowed, $"region '{askedRegions[r]}' is not allowed; allowed: {string.Join(", ", p.AllowedRegions)}.", null, now, streaming, messages);
                    }
                }
            }

            Narrow(p, route, askedRegions, ref regions, ref allowedRoutes, ref deniedRoutes);

            if (p.MaxOutputTokensPerRequest is int max)
            {
                cap = Math.Min(cap ?? int.MaxValue, max);
            }

            int maxOutput = Math.Min(cap ?? int.MaxValue, options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens);
            if (scope.TryAcquire(promptTokens + maxOutput, now.UtcTicks, out TimeSpan? retryAfter) is PolicyViolation limited)
            {
                throw Deny(path, route, scope, limited, limited == PolicyViolation.RequestRateExceeded
                    ? $"more than {p.RequestsPerMinute} requests per minute."
                    : $"more than {p.TokensPerMinute} tokens per minute.", retryAfter, now, streaming, messages);
            }
        }

        BudgetAccount[] accounts = resolved.Accounts;
        if (accounts.Length > 0)
        {
            // A reservation must be a true worst case: requests without an output cap get the default one.
            cap = Math.Min(cap ?? int.MaxValue, _options.DefaultMaxOutputTokens);
        }

        bool narrow = regions is not null || allowedRoutes is not null || deniedRoutes is not null;
        if ((cap is int c && (options?.MaxOutputTokens is not int asked2 || asked2 > c)) || narrow)
        {
            options = options?.Clone() ?? new ChatOptions();
            if (cap is int c2 && (options.MaxOutputTokens is not int asked3 || asked3 > c2))
            {
                options.MaxOutputTokens = c2;
            }

            if (narrow)
            {
                RouteConstraints? existing = options.GetRouteConstraints();
                options.AdditionalProperties = options.AdditionalProperties is null ? [] : new AdditionalPropertiesDictionary(options.AdditionalProperties);
                options.WithRouteConstraints(RouteConstraints.Narrow(existing, regions, allowedRoutes, deniedRoutes));
            }
        }

        return accounts;
    }

    /// <summary>
    /// What one scope's policy adds to the request's routing constraints: the routes its fallbacks may use, and its allowed
    /// regions when the request asked for none (regions it asked for are checked, not narrowed).
    /// </summary>
    private void Narrow(ScopePolicy p, string route, IReadOnlyList<string>? askedRegions, ref List<string>? regions, ref List<string>? allowedRoutes, ref List<string>? deniedRoutes)
    {
        if (_fallbackLimited.Count > 0 && (p.AllowedRoutes.Count > 0 || p.DeniedRoutes.Count > 0) && _fallbackLimited.TryGetValue(p, out FrozenSet<string>? limitedRoutes) && limitedRoutes.Contains(route))
        {
            // The route's fallbacks (or its deployments' models) reach what this scope excludes: the router must skip them.
            if (p.AllowedRoutes.Count > 0)
            {
                allowedRoutes = allowedRoutes is null ? [.. p.AllowedRoutes] : Intersect(allowedRoutes, p.AllowedRoutes);
            }

            if (p.DeniedRoutes.Count > 0)
            {
                (deniedRoutes ??= []).AddRange(p.DeniedRoutes);
            }
        }

        if (p.AllowedRegions.Count > 0 && askedRegions is not { Count: > 0 })
        {
            regions = regions is null ? [.. p.AllowedRegions] : Intersect(regions, p.AllowedRegions);
        }
    }

    private PolicyViolationException Deny(
        ScopePath path, string route, ScopeRuntime scope, PolicyViolation violation, string detail, TimeSpan? retryAfter, DateTimeOffset now, bool streaming, IEnumerable<ChatMessage> messages)
    {
        var denied = new PolicyViolationException(RouteLabel(route), scope.Id, violation, detail, retryAfter);
        Rejected(route, RouterTelemetry.Name(violation), scope.Policy.Scope);
        Write(new Admission { Path = path, Route = route, At = now, Streaming = streaming, Messages = messages }, AuditDecision.Denied, reason: denied.Message);
        return denied;
    }

    /// <summary>The regions of <paramref name="regions"/> also in <paramref name="allowed"/> (no lambda: a captured variable would cost every rule scope an allocation).</summary>
    private static List<string> Intersect(List<string> regions, IList<string> allowed)
    {
        var both = new List<string>(regions.Count);
        foreach (string region in regions)
        {
            if (Contains(allowed, region))
            {
                both.Add(region);
            }
        }

        return both;
    }

    private static bool Contains(IList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
