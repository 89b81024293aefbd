namespace LlmRouter;

/// <summary>What the budget layer does when its store (for example Redis) cannot be reached.</summary>
public enum LedgerFailureMode
{
    /// <summary>Reject the request with <see cref="BudgetLedgerUnavailableException"/>: no spend goes unaccounted. The default.</summary>
    FailClosed,

    /// <summary>Let the request through without a reservation; its spend is not recorded in the store.</summary>
    FailOpen,
}
