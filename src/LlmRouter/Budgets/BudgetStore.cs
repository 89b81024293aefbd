namespace LlmRouter;

/// <summary>
/// Where budget counters live: <see cref="InMemoryBudgetStore"/> for one process, <c>RedisBudgetStore</c> (package
/// LlmRouter.Redis) for several. A store keeps, per account and window, what was spent and what is reserved by requests
/// in flight, and reserves atomically across all accounts of a request, so concurrent requests never overspend a limit
/// by more than one request's reservation.
/// </summary>
/// <remarks>Amounts are nano-dollars (1e-9 USD). Implementations throw on transport failures; the budget layer applies <see cref="LedgerFailureMode"/>.</remarks>
public abstract class BudgetStore
{
    /// <summary>
    /// Reserves <paramref name="amountNanos"/> on every account, in the window containing <paramref name="now"/>, if every
    /// account can cover it (spent + reserved + amount &lt;= limit); otherwise reserves nothing.
    /// </summary>
    /// <param name="accounts">The accounts of the request's scope path.</param>
    /// <param name="amountNanos">The request's worst-case cost.</param>
    /// <param name="now">The time of the request.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>Whether it was granted, and the facts of the first account that denied it.</returns>
    public abstract ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Settles a reservation made at <paramref name="reservedAt"/>: releases <paramref name="reservedNanos"/> and records
    /// <paramref name="actualNanos"/> as spent, in the window the reservation was made in.
    /// </summary>
    /// <param name="accounts">The accounts the reservation was made on.</param>
    /// <param name="reservedAt">When it was reserved.</param>
    /// <param name="reservedNanos">The amount reserved.</param>
    /// <param name="actualNanos">The actual (or estimated) cost; zero releases the reservation.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when settled.</returns>
    public abstract ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken);

    /// <summary>Records spend without a reservation (deployment budgets) and returns the account's spend in the window afterwards.</summary>
    /// <param name="account">The account.</param>
    /// <param name="amountNanos">The amount spent.</param>
    /// <param name="now">The time of the spend.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The spend in the window after this charge, in nano-dollars.</returns>
    public abstract ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Reads an account's spend and reservations in the window containing <paramref name="now"/>.</summary>
    /// <param name="account">The account.</param>
    /// <param name="now">The time.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The spend and reservations in nano-dollars.</returns>
    public abstract ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken);
}
