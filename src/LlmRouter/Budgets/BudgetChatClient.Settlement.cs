using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

// Settlement of requests: pricing the actual usage, settling or releasing reservations, charging deployments and writing audit records.
public sealed partial class BudgetChatClient
{
    /// <summary>The worst-case rates of the deployments a request to this route may reach.</summary>
    private TokenRates RatesOf(string? modelId)
    {
        string key = modelId ?? string.Empty;
        if (_routeRates.TryGetValue(key, out TokenRates rates))
        {
            return rates;
        }

        if (_router is null && PriceCatalog.Default.Find(modelId ?? InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId) is { } catalogued)
        {
            return TokenRates.From(catalogued);
        }

        throw new InvalidOperationException(
            $"No price is known for route or model '{RouteLabel(key)}': add it to the deployments' Price or use a model id from the price catalogue (PriceCatalog.Default).");
    }

    private Measured Measure<T>(in Admission admission, UsageDetails? usage, RoutingReport? report, Func<T, string> textOf, T source, string? outputFallback)
    {
        TokenRates rates;
        if (report is not null && _deployments.TryGetValue(report.Deployment, out DeploymentBudget? d) && d.Rates is { } known)
        {
            rates = known;
        }
        else
        {
            try
            {
                rates = RatesOf(admission.Options?.ModelId);
            }
            catch (InvalidOperationException) when (admission.Accounts.Length == 0)
            {
                // Nothing to charge and no price to charge with: account tokens only.
                rates = default;
            }
        }

        Measured served;
        if (usage is { InputTokenCount: not null } or { OutputTokenCount: not null })
        {
            served = new Measured(rates.Of(usage), false, usage.InputTokenCount ?? 0, usage.OutputTokenCount ?? 0);
        }
        else
        {
            long input = TokenEstimator.Count(admission.Messages);
            long output = TokenEstimator.Count(outputFallback ?? textOf(source));
            served = new Measured(rates.WorstCase(input, output), true, input, output);
        }

        return report is { AttemptCount: > 1 } ? served with { Nanos = served.Nanos + SupersededCost(admission, report) } : served;
    }

    /// <summary>
    /// What the hedged attempts another attempt beat cost: each was cancelled mid-way, its usage unknown; providers bill the
    /// prompt they read, so each is charged its prompt (the upper bound used for reservations) at its deployment's input price.
    /// </summary>
    private long SupersededCost(in Admission admission, RoutingReport report)
    {
        long nanos = 0;
        long prompt = -1;
        foreach (AttemptRecord a in report.Attempts)
        {
            if (a.Outcome == AttemptOutcome.Superseded && _deployments.TryGetValue(a.Deployment, out DeploymentBudget? d) && d.Rates is { } rates)
            {
                if (prompt < 0)
                {
                    prompt = admission.PromptTokens > 0 ? admission.PromptTokens : TokenEstimator.UpperBound(admission.Messages, admission.Options);
                }

                nanos += rates.WorstCase(prompt, 0);
            }
        }

        return nanos;
    }

    /// <summary>
    /// Settles the reservation at <paramref name="cost"/> and charges the serving deployment's budgets; never throws. Not
    /// while the store is known to be down: the reservation then stays held until its window's key expires, as it would
    /// after a failed settle, and the deployment's spend goes unrecorded.
    /// </summary>
    private ValueTask SettleAsync(in Admission admission, RoutingReport? report, Measured cost)
    {
        if (_ledger.IsDown)
        {
            return default;
        }

        if (admission.Accounts.Length > 0)
        {
            ValueTask pending;
            try
            {
                pending = _store.SettleAsync(admission.Accounts, admission.At, admission.Reserved, cost.Nanos, CancellationToken.None);
            }
#pragma warning disable CA1031 // Handled as the store's asynchronous failure is.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                pending = ValueTask.FromException(ex);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return SettleSlowAsync(pending, admission.Accounts[0], report, cost);
            }

            pending.GetAwaiter().GetResult();
        }

        return _anyDeploymentBudget && report is not null ? ChargeDeploymentAsync(report, cost) : default;
    }

    private async ValueTask SettleSlowAsync(ValueTask pending, BudgetAccount account, RoutingReport? report, Measured cost)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LedgerFailed(ex, account);
        }

        if (_anyDeploymentBudget && report is not null)
        {
            await ChargeDeploymentAsync(report, cost).ConfigureAwait(false);
        }
    }

    /// <summary>Charges the serving deployment's own budgets and takes it out of routing when one is exhausted.</summary>
    private async ValueTask ChargeDeploymentAsync(RoutingReport report, Measured cost)
    {
        if (!_deployments.TryGetValue(report.Deployment, out DeploymentBudget? d) || d.Budgets.Length == 0)
        {
            return;
        }

        DateTimeOffset now = _clock.UtcNow();
        foreach (BudgetAccount a in d.Budgets)
        {
            if (_ledger.IsDown)
            {
                return;
            }

            try
            {
                long spent = await _store.ChargeAsync(a, cost.Nanos, now, CancellationToken.None).ConfigureAwait(false);
                if (spent < a.LimitNanos)
                {
                    continue;
                }

                // A windowed budget holds the deployment out until its window resets; a Total budget never resets.
                DateTimeOffset? resets = a.WindowEnd(now);
                _router?.HoldOut(d.Deployment, resets ?? DateTimeOffset.MaxValue);
                if (resets is { } at)
                {
                    BudgetLog.DeploymentBudgetExhausted(_logger, d.Deployment.Name, a.Window, a.Limit, at);
                }
                else
                {
                    BudgetLog.DeploymentTotalBudgetExhausted(_logger, d.Deployment.Name, a.Limit);
                }
            }
            catch (Exception ex)
            {
                LedgerFailed(ex, a);
            }
        }
    }

    private async ValueTask ReleaseAsync(Admission admission)
    {
        if (admission.Accounts.Length == 0 || _ledger.IsDown)
        {
            return;
        }

        try
        {
            await _store.SettleAsync(admission.Accounts, admission.At, admission.Reserved, 0, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LedgerFailed(ex, admission.Accounts[0]);
        }
    }

    private void Write(
        in Admission admission, AuditDecision decision, RoutingReport? report = null, Measured cost = default, string? reason = null, string? responseText = null, AllAttemptsFailedException? failure = null)
    {
        if (_audit is LoggingAuditSink { Enabled: false })
        {
            return;
        }

        bool content = _options.AuditContent && admission.Options.GetRouteConstraints() is not { RequireZeroDataRetention: true };
        _audit.Write(new AuditRecord
        {
            Timestamp = admission.At,
            ScopePath = admission.Path,
            Route = RouteLabel(admission.Route),
            ServedRoute = report?.Route,
            Deployment = report?.Deployment ?? (failure?.Attempts is { Count: > 0 } tried ? tried[^1].Deployment : null),
            Attempts = report?.AttemptCount ?? failure?.Attempts.Count ?? 0,
            Streaming = admission.Streaming,
            InputTokens = cost.InputTokens,
            OutputTokens = cost.OutputTokens,
            CostUsd = Cost.ToUsd(cost.Nanos),
            CostEstimated = cost.Estimated,
            Decision = decision,
            Reason = reason,
            Prompt = content ? [.. admission.Messages] : null,
            ResponseText = content ? responseText : null,
        });
    }

    /// <summary>
    /// An audit reason for a failure: the message of the router's and this layer's own exceptions (composed from names and
    /// numbers), otherwise only the exception's type and HTTP status. Provider SDK messages can carry response bodies, and
    /// an error body may echo request headers (API keys): they never reach the audit log.
    /// </summary>
    private static string Describe(Exception ex) => ex switch
    {
        LlmRouterException or BudgetExceededException or PolicyViolationException or BudgetLedgerUnavailableException or OperationCanceledException => ex.Message,
        HttpRequestException { StatusCode: { } status } => $"{ex.GetType().Name} ({(int)status})",
        _ => ex.GetType().Name,
    };
}
