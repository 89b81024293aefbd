using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// One attempt of a hedged request, with its own cancellation (so a loser can be cancelled alone: the caller's token, its
/// own timeout, or a lost race) and its own span. <see cref="Completion"/> decides the race: the response, or for a
/// stream its first update.
/// </summary>
internal abstract class HedgedAttempt(Pick pick, long start, CancellationTokenSource cancellation, CancellationTokenRegistration link, Activity? span, bool hedge)
{
    public Pick Pick { get; } = pick;

    public long Start { get; } = start;

    public Activity? Span { get; } = span;

    /// <summary>Whether the attempt is a hedge (not the request's first attempt or a plain failover).</summary>
    public bool Hedge { get; } = hedge;

    /// <summary>The attempt's cancellation: the caller's token, its own timeout, or a lost race.</summary>
    public CancellationTokenSource Cancellation { get; } = cancellation;

    public CancellationTokenRegistration Link { get; } = link;

    /// <summary>Completes when the attempt has its answer (for a stream: its first update, or the end of an empty stream).</summary>
    public abstract Task Completion { get; }

    /// <summary>With <see cref="HedgingOptions.OnFirstUpdate"/>, completes when the attempt's stream sends its first update.</summary>
    public virtual Task? FirstUpdate => null;

    /// <summary>The timeout the attempt runs under, reported when it ran into it.</summary>
    public abstract TimeSpan? TimeoutLimit { get; }

    /// <summary>Whether the attempt's own cancellation fired (its timeout, when the caller did not cancel).</summary>
    public bool TimedOut => Cancellation.IsCancellationRequested;

    /// <summary>The failure that ended the attempt (a cancelled task has none of its own).</summary>
    public Exception Error(CancellationToken cancellationToken) =>
        Completion.Exception?.InnerException ?? new OperationCanceledException("The attempt was cancelled.", null, cancellationToken);

    /// <summary>Called when <see cref="Completion"/> finished, before the outcome is looked at.</summary>
    public abstract void Completed();

    /// <summary>Frees what a failed attempt holds.</summary>
    public abstract ValueTask FailedAsync();

    /// <summary>Cancels a running attempt; what it holds is freed once it has stopped.</summary>
    public abstract void Cancel();

    /// <summary>Frees the attempt's cancellation.</summary>
    public void Release()
    {
        Link.Dispose();
        Cancellation.Dispose();
    }
}

/// <summary>A non-streaming attempt (or, with <see cref="HedgingOptions.OnFirstUpdate"/>, a stream collected into the response).</summary>
internal sealed class ResponseAttempt(
    Pick pick, long start, Task<ChatResponse> task, Task? firstUpdate, CancellationTokenSource cancellation, CancellationTokenRegistration link, Activity? span, bool hedge)
    : HedgedAttempt(pick, start, cancellation, link, span, hedge)
{
    public Task<ChatResponse> Task { get; } = task;

    public override Task Completion => Task;

    public override Task? FirstUpdate { get; } = firstUpdate;

    public override TimeSpan? TimeoutLimit => Pick.Deployment.AttemptTimeout;

    public override void Completed() => Release();

    public override ValueTask FailedAsync() => ValueTask.CompletedTask;

    /// <summary>Cancels a running attempt; a late failure of its task is observed so it never goes unobserved.</summary>
    public override void Cancel()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished and released.
        }

        _ = Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Release();
    }
}

/// <summary>A streaming attempt racing to its first update.</summary>
internal sealed class StreamAttempt(
    Pick pick, long start, IAsyncEnumerator<ChatResponseUpdate>? updates, Task<bool> first, CancellationTokenSource cancellation, CancellationTokenRegistration link, Activity? span, bool hedge)
    : HedgedAttempt(pick, start, cancellation, link, span, hedge)
{
    public IAsyncEnumerator<ChatResponseUpdate>? Updates { get; } = updates;

    /// <summary>The first MoveNextAsync: true with a first update, false for a stream that ended empty.</summary>
    public Task<bool> First { get; } = first;

    public override Task Completion => First;

    public override TimeSpan? TimeoutLimit => Pick.Deployment.TimeToFirstTokenTimeout;

    public override void Completed()
    {
        // A winner keeps its cancellation for the rest of its stream; a failure frees it in FailedAsync.
    }

    public override async ValueTask FailedAsync()
    {
        await StreamRunner.DisposeQuietlyAsync(Updates).ConfigureAwait(false);
        Release();
    }

    /// <summary>Cancels a running attempt and disposes its stream once its pending read has finished (never while it runs).</summary>
    public override void Cancel()
    {
        Cancellation.Cancel();
        _ = DrainAsync();
    }

    private async Task DrainAsync()
    {
        try
        {
            await First.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A cancelled or failed loser: nothing to report.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        await StreamRunner.DisposeQuietlyAsync(Updates).ConfigureAwait(false);
        Release();
    }
}
