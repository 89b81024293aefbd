namespace LlmRouter;

/// <summary>
/// Options of the budget and governance layer (<see cref="BudgetChatClient"/>): policies per scope, the output cap used
/// for reservations, what to do when the store is down, and audit content. Bound from "LlmRouter:Budgets".
/// </summary>
public sealed class BudgetOptions
{
    /// <summary>
    /// Gets the policies, one per scope (<see cref="ScopePolicy.Scope"/>, unique, case-insensitive). A list rather than a
    /// dictionary because scope ids contain ':', the configuration key separator. Default: none.
    /// </summary>
    public IList<ScopePolicy> Scopes { get; } = [];

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
