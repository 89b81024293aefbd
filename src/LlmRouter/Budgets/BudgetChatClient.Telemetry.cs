using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Telemetry;

namespace LlmRouter;

// Metrics of the budget layer: cost, rejections, remaining budget.
public sealed partial class BudgetChatClient
{
    /// <summary>Counts the cost of a settled request (<c>llmrouter.cost</c>); a flag read while nobody listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RecordCost(in Admission admission, RoutingReport? report, Measured cost)
    {
        if (RouterTelemetry.Cost.Enabled && cost.Nanos > 0)
        {
            RecordCostCore(admission, report, cost);
        }
    }

    private void RecordCostCore(in Admission admission, RoutingReport? report, Measured cost) =>
        RouterTelemetry.Cost.Add((double)Cost.ToUsd(cost.Nanos), new TagList
        {
            { RouterTelemetry.Tags.Route, report?.RequestedRoute ?? RouteTag(admission.Route) },
            { RouterTelemetry.Tags.DeploymentName, report?.Deployment },
            { RouterTelemetry.Tags.CostEstimated, cost.Estimated ? "true" : "false" },
        });

    /// <summary>
    /// Counts a request refused before any provider call (<c>llmrouter.budget.rejections</c>). The scope tag is the policy's
    /// scope as configured: an exact id, or the <c>kind:*</c> template for per-id policies (never the id itself, which
    /// could be a user's: metric tags stay bounded).
    /// </summary>
    private void Rejected(string route, string reason, string? scope)
    {
        if (RouterTelemetry.BudgetRejections.Enabled)
        {
            RouterTelemetry.BudgetRejections.Add(1, new TagList
            {
                { RouterTelemetry.Tags.Route, RouteTag(route) },
                { RouterTelemetry.Tags.Reason, reason },
                { RouterTelemetry.Tags.Scope, scope },
            });
        }
    }

    /// <summary>The route as the router names it (configured case, "(unknown)" for no route), or the label over another client.</summary>
    private string RouteTag(string route) => _router?.RouteTag(route.Length == 0 ? null : route) ?? RouteLabel(route);

    /// <summary>
    /// The remaining budget of every configured exact scope and every deployment budget, for <c>llmrouter.budget.remaining</c>.
    /// A store that answers synchronously (in memory) is read as is; a remote one is read in the background and the last
    /// completed read reported, so a metrics collection never waits on the network.
    /// </summary>
    private IEnumerable<Measurement<double>> ObserveRemaining()
    {
        DateTimeOffset now = _clock.UtcNow();
        foreach (BudgetAccount a in _observed)
        {
            long? remaining = ReadRemaining(a, now);
            if (remaining is long nanos)
            {
                yield return new Measurement<double>(
                    (double)Cost.ToUsd(Math.Max(0, nanos)),
                    new KeyValuePair<string, object?>(a.IsDeployment ? RouterTelemetry.Tags.DeploymentName : RouterTelemetry.Tags.Scope, a.Owner),
                    new KeyValuePair<string, object?>(RouterTelemetry.Tags.BudgetWindowName, a.Window.ToString()));
            }
        }
    }

    private long? ReadRemaining(BudgetAccount a, DateTimeOffset now)
    {
        if (_ledger.IsDown)
        {
            return _lastRemaining.TryGetValue(a, out long last) ? last : null;
        }

        ValueTask<(long SpentNanos, long ReservedNanos)> read;
        try
        {
            read = _store.GetAsync(a, now, CancellationToken.None);
        }
#pragma warning disable CA1031 // A metrics callback must not throw; the outage is logged by the request path.
        catch (Exception)
#pragma warning restore CA1031
        {
            return _lastRemaining.TryGetValue(a, out long last) ? last : null;
        }

        if (read.IsCompletedSuccessfully)
        {
            (long spent, long reserved) = read.Result;
            return _lastRemaining[a] = a.LimitNanos - spent - reserved;
        }

        _ = RefreshAsync(a, read);
        return _lastRemaining.TryGetValue(a, out long known) ? known : null;
    }

    private async Task RefreshAsync(BudgetAccount a, ValueTask<(long SpentNanos, long ReservedNanos)> read)
    {
        try
        {
            (long spent, long reserved) = await read.ConfigureAwait(false);
            _lastRemaining[a] = a.LimitNanos - spent - reserved;
        }
#pragma warning disable CA1031 // Background read for a gauge: a failure leaves the last value.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
