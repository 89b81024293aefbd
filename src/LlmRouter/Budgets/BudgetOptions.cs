namespace LlmRouter;

/// <summary>
/// Options of the budget and governance layer (<see cref="BudgetChatClient"/>): policies per scope, the output cap used
/// for reservations, what to do when the store is down, and audit content. Bound from "LlmRouter:Budgets".
/// </summary>
public sealed class BudgetOptions
{
    /// <summary>
    /// Gets the policies by scope id (case-insensitive), for example "org:acme" or "team:search". A key of the form
    /// <c>kind:*</c> applies to each scope id of that kind separately (each user gets the "user:*" budget of their own)
    /// unless the id has its own entry. Default: none.
    /// </summary>
    public IDictionary<string, ScopePolicy> Scopes { get; } = new Dictionary<string, ScopePolicy>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the output tokens reserved for a request that sets no <c>MaxOutputTokens</c>. The cap is also applied
    /// to such requests, so the reservation is a true worst case. Default: 4,096.
    /// </summary>
    public int DefaultMaxOutputTokens { get; set; } = BudgetDefaults.DefaultMaxOutputTokens;

    /// <summary>Gets or sets what happens when the store cannot be reached. Default: <see cref="LedgerFailureMode.FailClosed"/>.</summary>
    public LedgerFailureMode OnLedgerFailure { get; set; } = LedgerFailureMode.FailClosed;

    /// <summary>
    /// Gets or sets whether audit records include the prompt and the answer's text. Never for zero-data-retention
    /// requests. Default: <see langword="false"/>.
    /// </summary>
    public bool AuditContent { get; set; }
}
