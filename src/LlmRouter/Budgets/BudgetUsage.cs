namespace LlmRouter;

/// <summary>An account's state in its current window.</summary>
/// <param name="Account">The account.</param>
/// <param name="SpentUsd">Spent in the window, in US dollars.</param>
/// <param name="ReservedUsd">Reserved by requests in flight, in US dollars.</param>
/// <param name="WindowStart">When the window started (<see cref="DateTimeOffset.MinValue"/> for totals).</param>
/// <param name="ResetsAt">When the window ends, or <see langword="null"/> for totals.</param>
public readonly record struct BudgetUsage(BudgetAccount Account, decimal SpentUsd, decimal ReservedUsd, DateTimeOffset WindowStart, DateTimeOffset? ResetsAt)
{
    /// <summary>Gets what is left to spend in the window, in US dollars (never negative).</summary>
    public decimal RemainingUsd => Math.Max(0m, Account.Limit - SpentUsd - ReservedUsd);
}
