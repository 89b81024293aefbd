using Microsoft.Extensions.AI;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>Sends soak requests through the application's client and sorts each ending into a <see cref="SoakOutcome"/>.</summary>
internal sealed class SoakDriver(IChatClient client, SoakTally tally)
{
    /// <summary>Sends <paramref name="count"/> requests from number <paramref name="first"/> on, with <paramref name="concurrency"/> in flight.</summary>
    public Task RunAsync(int seed, int first, int count, int concurrency) =>
        Parallel.ForEachAsync(
            Enumerable.Range(first, count),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (number, _) => await SendAsync(SoakRequest.Draw(seed, number)));

    public async Task SendAsync(SoakRequest request)
    {
        using CancellationTokenSource? caller = request.CancelAfter is { } after ? new CancellationTokenSource(after) : null;
        CancellationToken token = caller?.Token ?? CancellationToken.None;
        tally.Started(request);
        int updates = 0;
        try
        {
            RoutingReport? report;
            if (request.Streaming)
            {
                report = null;
                await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(request.Messages(), request.Options(), token))
                {
                    updates++;
                    report ??= update.GetRoutingReport();
                    if (request.Abandon)
                    {
                        break;
                    }
                }

                if (request.Abandon && updates > 0)
                {
                    tally.Ended(request, SoakOutcome.Abandoned);
                    return;
                }
            }
            else
            {
                ChatResponse response = await client.GetResponseAsync(request.Messages(), request.Options(), token);
                report = response.GetRoutingReport();
                tally.Charged(response.GetCost());
            }

            Served(request, report, updates);
        }
#pragma warning disable CA1031 // Every ending is sorted; none may escape the soak.
        catch (Exception error)
#pragma warning restore CA1031
        {
            Failed(request, error, updates, caller?.IsCancellationRequested == true);
        }
    }

    private void Served(SoakRequest request, RoutingReport? report, int updates)
    {
        if (request.Streaming && updates == 0)
        {
            tally.Ended(request, SoakOutcome.EmptyStream);
        }
        else if (report is null)
        {
            // Only a shared prompt can be answered by the cache; a prompt of its own is never stored.
            tally.Ended(request, request.SharedPrompt is null ? SoakOutcome.Violation : SoakOutcome.ServedFromCache, violation: "served without a routing report");
        }
        else if (report.RequestedRoute != request.Route || report.AttemptCount > ChaosRig.MaxAttempts)
        {
            tally.Ended(request, SoakOutcome.Violation, violation: $"report {report} for route '{report.RequestedRoute}'");
        }
        else
        {
            tally.Ended(request, SoakOutcome.Served);
        }
    }

    private void Failed(SoakRequest request, Exception error, int updates, bool cancelled)
    {
        switch (error)
        {
            case OperationCanceledException when cancelled:
                tally.Ended(request, SoakOutcome.Cancelled, error);
                break;
            case BudgetExceededException denied when request.Capped:
                tally.Denied(denied);
                tally.Ended(request, SoakOutcome.BudgetDenied, error);
                break;
            case BudgetExceededException:
                tally.Ended(request, SoakOutcome.Violation, error, "a budget denied a request of the uncapped scope");
                break;
            case AllAttemptsFailedException failed when failed.Attempts.Count <= ChaosRig.MaxAttempts:
                tally.Ended(request, SoakOutcome.AllAttemptsFailed, error);
                break;
            case NoAvailableDeploymentException:
                tally.Ended(request, SoakOutcome.NoAvailableDeployment, error);
                break;
            case LlmRouterException and not AllAttemptsFailedException:
                tally.Ended(request, SoakOutcome.OtherRouterError, error);
                break;
            case NullReferenceException or ObjectDisposedException or InvalidOperationException or ArgumentException:
                tally.Ended(request, SoakOutcome.Violation, error, "a bug's exception reached the caller");
                break;
            case OperationCanceledException:
                tally.Ended(request, SoakOutcome.Violation, error, "cancelled without the caller cancelling");
                break;
            case not null when request.Streaming && updates > 0:
                tally.Ended(request, SoakOutcome.BrokenMidStream, error);
                break;
            default:
                tally.Ended(request, SoakOutcome.Violation, error, $"a raw {error?.GetType().Name} escaped the router after {updates} update(s)");
                break;
        }
    }
}
