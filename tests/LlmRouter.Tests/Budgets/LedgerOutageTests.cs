using Microsoft.Extensions.AI;
using static LlmRouter.Tests.Budgets.BudgetHarness;

namespace LlmRouter.Tests.Budgets;

/// <summary>
/// The budget layer while its store is down: once a failure has shown the outage, requests no longer wait on the store;
/// a background probe (on the layer's TimeProvider) finds it back.
/// </summary>
public class LedgerOutageTests
{
    [Fact]
    public async Task Once_the_ledger_is_known_down_fail_closed_requests_are_rejected_without_touching_the_store_until_a_background_probe_reads_it_again()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("user:alice", Usd(1m));
        var store = new SwitchableStore { Down = true };
        BudgetChatClient client = h.Build(store: store);
        await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetResponseAsync(Prompt, For("user:alice")));

        for (int i = 1; i <= 3; i++)
        {
            await ProbedAsync(h, store, i); // the probe, in the background
            BudgetLedgerUnavailableException ex = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetResponseAsync(Prompt, For("user:alice")));
            Assert.IsType<TimeoutException>(ex.InnerException);
        }

        Assert.Equal(1, store.Reservations);
        Assert.Equal(0, provider.Calls);

        store.Down = false;
        await ProbedAsync(h, store, 4);
        await Eventually.Until(async () => (await TryAskAsync(client)) is not null); // the probe's success is recorded just after its read

        Assert.Equal(2, store.Reservations);
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public async Task Once_the_ledger_is_known_down_fail_open_requests_are_served_without_touching_the_store()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a", configure: d => d.Budgets.Add(Usd(5m)));
        h.Scope("user:alice", Usd(1m));
        var store = new SwitchableStore { Down = true };
        BudgetChatClient client = h.Build(LedgerFailureMode.FailOpen, store);

        for (int i = 0; i < 3; i++)
        {
            await client.GetResponseAsync(Prompt, For("user:alice"));
        }

        Assert.Equal(3, provider.Calls);
        Assert.Equal(1, store.Reservations);
        Assert.Equal(0, store.Charges); // the deployment's own budget is not charged on a store known to be down
    }

    [Fact]
    public async Task GetUsageAsync_reports_an_unreachable_store_with_BudgetLedgerUnavailableException()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:alice", Usd(1m));
        var store = new SwitchableStore { Down = true };
        BudgetChatClient client = h.Build(store: store);

        BudgetLedgerUnavailableException first = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetUsageAsync("user:alice"));
        BudgetLedgerUnavailableException known = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetUsageAsync());

        Assert.IsType<TimeoutException>(first.InnerException);
        Assert.IsType<TimeoutException>(known.InnerException);
        Assert.Contains("usage", first.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.Reads); // the second read was answered from the known outage
    }

    /// <summary>
    /// Moves time on, an interval at a time, until the probe has read the store <paramref name="count"/> times (a probe
    /// registers its next wait on the clock after its read, possibly on another thread, so one move may come too early).
    /// </summary>
    private static Task ProbedAsync(BudgetHarness h, SwitchableStore store, int count) => Eventually.Until(() =>
    {
        if (store.Reads >= count)
        {
            return true;
        }

        h.Router.Time.Advance(TimeSpan.FromSeconds(5));
        return false;
    });

    private static async Task<ChatResponse?> TryAskAsync(BudgetChatClient client)
    {
        try
        {
            return await client.GetResponseAsync(Prompt, For("user:alice"));
        }
        catch (BudgetLedgerUnavailableException)
        {
            return null;
        }
    }

    /// <summary>An in-memory store that fails every call, as Redis does while it is down, whenever <see cref="Down"/> is set; counts calls by kind.</summary>
    private sealed class SwitchableStore : BudgetStore
    {
        private readonly InMemoryBudgetStore _inner = new();
        private int _reservations;
        private int _reads;
        private int _charges;
        private volatile bool _down;

        public bool Down
        {
            get => _down;
            set => _down = value;
        }

        public int Reservations => Volatile.Read(ref _reservations);

        public int Reads => Volatile.Read(ref _reads);

        public int Charges => Volatile.Read(ref _charges);

        public override ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reservations);
            return Down ? Fail<BudgetReservation>() : _inner.ReserveAsync(accounts, amountNanos, now, cancellationToken);
        }

        public override ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken) =>
            Down ? new(Fail<bool>().AsTask()) : _inner.SettleAsync(accounts, reservedAt, reservedNanos, actualNanos, cancellationToken);

        public override ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _charges);
            return Down ? Fail<long>() : _inner.ChargeAsync(account, amountNanos, now, cancellationToken);
        }

        public override ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return Down ? Fail<(long, long)>() : _inner.GetAsync(account, now, cancellationToken);
        }

        private static ValueTask<T> Fail<T>() => ValueTask.FromException<T>(new TimeoutException("redis timeout"));
    }
}
