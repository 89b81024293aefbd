namespace LlmRouter;

/// <summary>
/// Thrown when the budget store cannot be reached: by a request with <see cref="LedgerFailureMode.FailClosed"/> (the
/// request was not sent), and by <see cref="BudgetChatClient.GetUsageAsync(CancellationToken)"/> whatever the mode
/// (its <see cref="LlmRouterException.Route"/> is then empty). Once a failure has shown the outage this is thrown at
/// once, without waiting on the store, until a background probe reads the store again; <see cref="Exception.InnerException"/>
/// is the store's last error.
/// </summary>
public sealed class BudgetLedgerUnavailableException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="innerException">The store's error.</param>
    public BudgetLedgerUnavailableException(string route, Exception innerException)
        : base(route, "The budget store cannot be reached, and BudgetOptions.OnLedgerFailure is FailClosed: the request was not sent. Set it to FailOpen to serve requests unaccounted during store outages.", innerException)
    {
    }

    private BudgetLedgerUnavailableException(Exception innerException, string message)
        : base(string.Empty, message, innerException)
    {
    }

    /// <summary>The error of a usage read while the store cannot be reached.</summary>
    internal static BudgetLedgerUnavailableException ForUsage(Exception innerException) =>
        new(innerException, "The budget store cannot be reached: budget usage cannot be read until it answers again.");
}
