namespace LlmRouter;

/// <summary>The answer of <see cref="BudgetStore.ReserveAsync"/>: granted on every account, or the first account that could not cover it.</summary>
/// <param name="Granted">Whether the amount was reserved on every account.</param>
/// <param name="DeniedIndex">The index of the first account that could not cover the amount, or -1.</param>
/// <param name="SpentNanos">That account's spend in its window so far, in nano-dollars.</param>
/// <param name="ReservedNanos">That account's amount reserved by requests in flight, in nano-dollars.</param>
public readonly record struct BudgetReservation(bool Granted, int DeniedIndex, long SpentNanos, long ReservedNanos)
{
    /// <summary>Gets a granted reservation.</summary>
    public static BudgetReservation Success { get; } = new(true, -1, 0, 0);
}
