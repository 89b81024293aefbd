using System.Runtime.CompilerServices;
using System.Text;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

// The request paths of the budget layer: admitting, calling the inner client (buffered or streamed), settling and annotating the response.
public sealed partial class BudgetChatClient
{
    private Task<ChatResponse> GetResponseCoreAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        // In-memory ledgers and synchronously completing clients (caches, the router over a fast provider) finish here
        // without an async state machine of this layer's own; anything that really waits continues in RunAsync.
        // A denial decided here is returned as a faulted task, as an awaiting caller would see it from an async method.
        ValueTask<Admission> admit;
        try
        {
            admit = AdmitAsync(messages, options, streaming: false, cancellationToken);
        }
#pragma warning disable CA1031 // Not handled: handed to the caller in the task.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return Task.FromException<ChatResponse>(ex);
        }

        if (!admit.IsCompletedSuccessfully)
        {
            return RunAsync(admit.AsTask(), messages, cancellationToken);
        }

        Admission admission = admit.Result;
        Task<ChatResponse> call;
        try
        {
            call = InnerClient.GetResponseAsync(messages, admission.Options, cancellationToken);
        }
#pragma warning disable CA1031 // Handled by the same path as an asynchronous failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            call = Task.FromException<ChatResponse>(ex);
        }

        if (!call.IsCompletedSuccessfully)
        {
            return CompleteAsync(admission, call);
        }

        ValueTask finish;
        try
        {
            finish = FinishAsync(admission, call.Result);
        }
#pragma warning disable CA1031 // Not handled: handed to the caller in the task (an audit sink's failure, say).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return Task.FromException<ChatResponse>(ex);
        }

        if (!finish.IsCompletedSuccessfully)
        {
            return AwaitFinish(finish, call.Result);
        }

        finish.GetAwaiter().GetResult();
        return call;

        static async Task<ChatResponse> AwaitFinish(ValueTask finish, ChatResponse response)
        {
            await finish.ConfigureAwait(false);
            return response;
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamCoreAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Admission admission = await AdmitAsync(messages, options, streaming: true, cancellationToken).ConfigureAwait(false);
        RoutingReport? report = null;
        UsageDetails? usage = null;
        var text = new StringBuilder();
        ChatResponseUpdate? last = null;
        bool completed = false;
        Exception? error = null;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            updates = base.GetStreamingResponseAsync(messages, admission.Options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (Exception ex)
                {
                    error = ex;
                    throw;
                }

                ChatResponseUpdate update = updates.Current;
                report ??= update.GetRoutingReport();
                foreach (AIContent content in update.Contents)
                {
                    if (content is UsageContent u)
                    {
                        (usage ??= new UsageDetails()).Add(u.Details);
                    }
                    else if (content is TextContent t)
                    {
                        text.Append(t.Text);
                    }
                }

                last = update;
                yield return update;
            }

            completed = true;
        }
        finally
        {
            if (updates is not null)
            {
                await updates.DisposeAsync().ConfigureAwait(false);
            }

            // A completed stream is settled below, where its cost can be yielded.
            if (!completed && report is null)
            {
                // Nothing was produced: a failure before the first update (or a denial below us) is not billed.
                await ReleaseAsync(admission).ConfigureAwait(false);
                Write(admission, AuditDecision.Failed, reason: error is null ? "The stream was abandoned before its first update." : Describe(error));
            }
            else if (!completed)
            {
                string partial = text.ToString();
                Measured estimate = Measure(admission, null, report, static s => s, partial, outputFallback: partial);
                await SettleAsync(admission, report, estimate).ConfigureAwait(false);
                RecordCost(admission, report, estimate);
                Write(admission, AuditDecision.Abandoned, report: report, cost: estimate,
                    reason: error is null ? "The caller stopped reading the stream before its end." : Describe(error), responseText: _options.AuditContent ? partial : null);
            }
        }

        string produced = text.ToString();
        Measured cost = Measure(admission, usage, report, static s => s, produced, outputFallback: produced);
        await SettleAsync(admission, report, cost).ConfigureAwait(false);
        RecordCost(admission, report, cost);
        Write(admission, AuditDecision.Served, report: report, cost: cost, responseText: _options.AuditContent ? produced : null);

        if (last is null)
        {
            yield break;
        }

        // One last update carries the cost, so the response combined from the stream has it (response.GetCost()).
        var costUpdate = new ChatResponseUpdate { ResponseId = last.ResponseId, MessageId = last.MessageId, AdditionalProperties = [] };
        costUpdate.AdditionalProperties[RequestCostExtensions.CostKey] = new RequestCost(Cost.ToUsd(cost.Nanos), cost.Estimated, cost.InputTokens, cost.OutputTokens);
        yield return costUpdate;
    }

    private async Task<ChatResponse> RunAsync(Task<Admission> admit, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        Admission admission = await admit.ConfigureAwait(false);
        return await CompleteAsync(admission, base.GetResponseAsync(messages, admission.Options, cancellationToken)).ConfigureAwait(false);
    }

    private async Task<ChatResponse> CompleteAsync(Admission admission, Task<ChatResponse> call)
    {
        ChatResponse response;
        try
        {
            response = await call.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await ReleaseAsync(admission).ConfigureAwait(false);
            Write(admission, AuditDecision.Failed, reason: Describe(ex), failure: ex as AllAttemptsFailedException);
            throw;
        }

        await FinishAsync(admission, response).ConfigureAwait(false);
        return response;
    }

    /// <summary>Settles a served request at its actual cost, puts the cost on the response and audits it.</summary>
    private ValueTask FinishAsync(in Admission admission, ChatResponse response)
    {
        RoutingReport? report = response.GetRoutingReport();
        Measured cost = Measure(admission, response.Usage, report, static r => r.Text, response, outputFallback: null);
        ValueTask settle = SettleAsync(admission, report, cost);
        if (!settle.IsCompletedSuccessfully)
        {
            return FinishSlowAsync(settle, admission, report, cost, response);
        }

        settle.GetAwaiter().GetResult();
        Annotate(admission, report, cost, response);
        return default;
    }

    private async ValueTask FinishSlowAsync(ValueTask settle, Admission admission, RoutingReport? report, Measured cost, ChatResponse response)
    {
        await settle.ConfigureAwait(false);
        Annotate(admission, report, cost, response);
    }

    private void Annotate(in Admission admission, RoutingReport? report, Measured cost, ChatResponse response)
    {
        RecordCost(admission, report, cost);
        (response.AdditionalProperties ??= [])[RequestCostExtensions.CostKey] =
            new RequestCost(Cost.ToUsd(cost.Nanos), cost.Estimated, cost.InputTokens, cost.OutputTokens);
        Write(admission, AuditDecision.Served, report: report, cost: cost, responseText: _options.AuditContent ? response.Text : null);
    }
}
