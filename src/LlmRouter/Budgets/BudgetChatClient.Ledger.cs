using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;

namespace LlmRouter;

// Outages of the store: the first failure marks the ledger down; until a background probe reads it again, requests,
// settlements and usage reads do not wait on it.
public sealed partial class BudgetChatClient
{
    /// <summary>Records a store failure on <paramref name="account"/> (the probe reads that account); the first of an outage is logged.</summary>
    private void LedgerFailed(Exception ex, BudgetAccount account)
    {
        Volatile.Write(ref _probeAccount, account);
        _ledger.Failed(ex);
    }

    /// <summary>The background probe of a store known to be down: one read of the account whose operation failed.</summary>
    private async ValueTask ProbeLedgerAsync(CancellationToken cancellationToken)
    {
        BudgetAccount account = Volatile.Read(ref _probeAccount)!;
        await _store.GetAsync(account, _clock.UtcNow(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What a request gets from a store that cannot be reached: rejected with <see cref="LedgerFailureMode.FailClosed"/>, admitted unaccounted otherwise.</summary>
    private Admission Unreachable(Admission admission, Exception ex)
    {
        if (_options.OnLedgerFailure == LedgerFailureMode.FailClosed)
        {
            var denied = new BudgetLedgerUnavailableException(RouteLabel(admission.Route), ex);
            Rejected(admission.Route, "ledger_unavailable", scope: null);
            Write(admission, AuditDecision.Denied, reason: denied.Message);
            throw denied;
        }

        // Fail open: the request goes ahead without a reservation, and nothing is settled for it.
        admission.Accounts = [];
        return admission;
    }

    private async ValueTask<BudgetUsage> ReadUsageAsync(BudgetAccount a, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_ledger.IsDown)
        {
            throw BudgetLedgerUnavailableException.ForUsage(_ledger.LastFailure!);
        }

        (long spent, long reserved) read;
        try
        {
            read = await _store.GetAsync(a, now, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LedgerFailed(ex, a);
            throw BudgetLedgerUnavailableException.ForUsage(ex);
        }

        return new BudgetUsage(a, Cost.ToUsd(read.spent), Cost.ToUsd(read.reserved), a.WindowStart(now), a.WindowEnd(now));
    }
}
