namespace LlmRouter;

/// <summary>Thrown, with <see cref="LedgerFailureMode.FailClosed"/>, when the budget store cannot be reached; the request was not sent.</summary>
public sealed class BudgetLedgerUnavailableException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="innerException">The store's error.</param>
    public BudgetLedgerUnavailableException(string route, Exception innerException)
        : base(route, "The budget store cannot be reached, and BudgetOptions.OnLedgerFailure is FailClosed: the request was not sent. Set it to FailOpen to serve requests unaccounted during store outages.", innerException)
    {
    }
}
