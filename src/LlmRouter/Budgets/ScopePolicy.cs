namespace LlmRouter;

/// <summary>
/// What one scope (an organisation, team, user, service account or API key) may do: budgets, allowed and denied routes,
/// allowed regions, an output cap and rate limits. Every scope of a request's path applies; the most restrictive wins.
/// </summary>
public sealed class ScopePolicy
{
    /// <summary>
    /// Gets or sets the scope the policy applies to, for example "org:acme" or "team:search" (case-insensitive). The form
    /// <c>kind:*</c> applies to each scope id of that kind separately (each user gets the "user:*" budget of their own)
    /// unless the id has its own policy. Required.
    /// </summary>
    public string Scope { get; set; } = string.Empty;

    /// <summary>Gets the spend limits of the scope, each over its own window. Default: none.</summary>
    public IList<BudgetLimit> Budgets { get; } = [];

    /// <summary>Gets the routes or model ids the scope may use (case-insensitive); empty allows every route. Default: empty.</summary>
    public IList<string> AllowedRoutes { get; } = [];

    /// <summary>Gets the routes or model ids the scope may not use (case-insensitive); checked after <see cref="AllowedRoutes"/>. Default: empty.</summary>
    public IList<string> DeniedRoutes { get; } = [];

    /// <summary>
    /// Gets the regions the scope's requests may be served in (case-insensitive); empty allows any. The router then only
    /// uses deployments of these regions, through every failover. Default: empty.
    /// </summary>
    public IList<string> AllowedRegions { get; } = [];

    /// <summary>Gets or sets the most output tokens one request may ask for; larger requests are capped to it. Default: no cap.</summary>
    public int? MaxOutputTokensPerRequest { get; set; }

    /// <summary>Gets or sets the most requests per minute (sliding window, per process). Default: no limit.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>
    /// Gets or sets the most tokens per minute (sliding window, per process), counted when a request is admitted from its
    /// prompt estimate plus its output cap. Default: no limit.
    /// </summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>
    /// Gets or sets a cheaper route to send the request to when a budget of this scope cannot cover it, instead of
    /// rejecting it. The downgraded request is reserved again at the cheaper route's prices. Default: reject.
    /// </summary>
    public string? DowngradeRoute { get; set; }
}
