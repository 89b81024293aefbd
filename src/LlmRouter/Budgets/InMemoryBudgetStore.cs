using System.Collections.Concurrent;

namespace LlmRouter;

/// <summary>
/// The default <see cref="BudgetStore"/>: counters in this process's memory, reserved under one short lock so a
/// request's accounts are checked and charged together. Counters keep only the current window; a settle for a window
/// that has since ended releases nothing and records nothing in the new one.
/// </summary>
public sealed class InMemoryBudgetStore : BudgetStore
{
    private readonly ConcurrentDictionary<string, SpendCounter> _counters = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <inheritdoc />
    public override ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        lock (_gate)
        {
            for (int i = 0; i < accounts.Count; i++)
            {
                BudgetAccount a = accounts[i];
                SpendCounter c = Current(a, now);
                if (c.Spent + c.Reserved + amountNanos > a.LimitNanos)
                {
                    return new(new BudgetReservation(false, i, c.Spent, c.Reserved));
                }
            }

            for (int i = 0; i < accounts.Count; i++)
            {
                ((SpendCounter)accounts[i].StoreSlot!).Reserved += amountNanos;
            }
        }

        return new(BudgetReservation.Success);
    }

    /// <inheritdoc />
    public override ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        lock (_gate)
        {
            for (int i = 0; i < accounts.Count; i++)
            {
                BudgetAccount a = accounts[i];
                SpendCounter c = Slot(a);
                long at = reservedAt.UtcTicks;
                if (at >= c.WindowStart && at < c.WindowEnd)
                {
                    c.Reserved = Math.Max(0, c.Reserved - reservedNanos);
                    c.Spent += actualNanos;
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        lock (_gate)
        {
            SpendCounter c = Current(account, now);
            c.Spent += amountNanos;
            return new(c.Spent);
        }
    }

    /// <inheritdoc />
    public override ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        lock (_gate)
        {
            SpendCounter c = Current(account, now);
            return new((c.Spent, c.Reserved));
        }
    }

    /// <summary>The account's counter, rolled over to the window containing <paramref name="now"/>. Call under the lock.</summary>
    private SpendCounter Current(BudgetAccount account, DateTimeOffset now)
    {
        SpendCounter c = Slot(account);
        long ticks = now.UtcTicks;
        if (ticks >= c.WindowEnd)
        {
            // The window ended: start the one containing now (computing window bounds only at a rollover).
            c.WindowStart = account.WindowStart(now).UtcTicks;
            c.WindowEnd = account.WindowEnd(now)?.UtcTicks ?? long.MaxValue;
            c.Spent = 0;
            c.Reserved = 0;
        }

        return c;
    }

    private SpendCounter Slot(BudgetAccount account)
    {
        if (ReferenceEquals(account.StoreSlotOwner, this))
        {
            return (SpendCounter)account.StoreSlot!;
        }

        SpendCounter c = _counters.GetOrAdd(account.Key, static _ => new SpendCounter());
        account.StoreSlot = c;
        account.StoreSlotOwner = this;
        return c;
    }

    private sealed class SpendCounter
    {
        public long WindowStart = long.MinValue;
        public long WindowEnd = long.MinValue;
        public long Spent;
        public long Reserved;
    }
}
