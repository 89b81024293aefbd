using System.Diagnostics;
using System.Runtime.ExceptionServices;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using static LlmRouter.Telemetry.RouterTelemetry;

namespace LlmRouter;

/// <summary>Hedged requests (<see cref="RouteOptions.Hedging"/>): a second attempt when the first is slow, the first success wins.</summary>
public sealed partial class LlmRouterChatClient
{
    /// <summary>What <see cref="FirstOrHedgeAsync"/> returns when the hedging delay passed first.</summary>
    private static readonly Task HedgeDue = Task.FromResult(true);

    /// <summary>
    /// The attempt loop of a hedged route: attempts run side by side, a new one starting when the newest has not answered
    /// within the hedging delay (up to <see cref="HedgingOptions.MaxExtraAttempts"/> and the route's hedged share), or at
    /// once when every running attempt has failed (a plain failover). The first success wins; the others are cancelled and
    /// recorded as <see cref="AttemptOutcome.Superseded"/> (no health verdict: their latency is unknown, not bad).
    /// With <see cref="HedgingOptions.OnFirstUpdate"/> the attempts are streams collected into the response: the delay
    /// is one of time to first update, and the first attempt to send an update serves the request (the others are
    /// superseded then, and no further hedge starts while it runs).
    /// </summary>
    private async Task<ChatResponse> HedgedAsync(
        RequestState state, IEnumerable<ChatMessage> messages, ChatOptions? options, Pick pick, long start, CancellationToken cancellationToken)
    {
        CompiledRoute route = state.Chain[0];
        HedgingOptions hedging = route.Hedging!;
        route.CountRequest();
        var running = new List<HedgedAttempt>(hedging.MaxExtraAttempts + 1);
        int hedges = 0;
        bool onFirstUpdate = hedging.OnFirstUpdate;

        // OnFirstUpdate: whether the running attempt has sent its first update (it serves the request; no more hedges).
        bool committed = false;
        try
        {
            running.Add(StartHedged(ref state, pick, start, messages, options, hedge: false, onFirstUpdate, cancellationToken));
            while (true)
            {
                TimeSpan? delay = !committed && hedges < hedging.MaxExtraAttempts && state.Attempts < state.MaxAttempts
                    ? HedgeDelay(hedging, running[^1].Pick.Deployment, streaming: onFirstUpdate)
                    : null;
                List<Task> waits = running.ConvertAll(r => (Task)r.Task);
                if (onFirstUpdate && !committed)
                {
                    foreach (HedgedAttempt r in running)
                    {
                        waits.Add(r.FirstUpdate!);
                    }
                }

                Task finished = await FirstOrHedgeAsync(waits, delay).ConfigureAwait(false);
                if (ReferenceEquals(finished, HedgeDue))
                {
                    bool taken = route.TryTakeHedge(hedging.MaxHedgedShare);
                    if (taken && NextPick(ref state, out Pick next, out long nextStart))
                    {
                        hedges++;
                        running.Add(StartHedged(ref state, next, nextStart, messages, options, hedge: true, onFirstUpdate, cancellationToken));
                    }
                    else
                    {
                        if (taken)
                        {
                            route.ReturnHedge(); // nothing to hedge with: the share is not used
                        }

                        hedges = hedging.MaxExtraAttempts; // nothing to hedge with, or the route's hedged share is used up
                    }

                    continue;
                }

                if (onFirstUpdate && !committed && running.Find(r => ReferenceEquals(r.FirstUpdate, finished)) is { } leader)
                {
                    // The first attempt to send an update serves the request, as for a stream: the others are cancelled.
                    committed = true;
                    leader.Pick.Deployment.RecordFirstUpdate(_clock.Elapsed(leader.Start, _clock.Now()).TotalSeconds);
                    foreach (HedgedAttempt loser in running)
                    {
                        if (!ReferenceEquals(loser, leader))
                        {
                            Supersede(ref state, loser);
                        }
                    }

                    running.Clear();
                    running.Add(leader);
                    continue;
                }

                HedgedAttempt done = running.Find(r => ReferenceEquals(r.Task, finished))!;
                running.Remove(done);
                done.Release();
                state.AttemptSpan = done.Span;
                if (done.Task.IsCompletedSuccessfully)
                {
                    ChatResponse response = done.Task.Result;
                    foreach (HedgedAttempt loser in running)
                    {
                        Supersede(ref state, loser);
                    }

                    running.Clear();
                    if (done.Hedge && Hedges.Enabled)
                    {
                        Hedges.Add(1, new TagList { { Tags.Route, state.RequestedRoute }, { Tags.Deployment, done.Pick.Deployment.Name }, { Tags.Outcome, "won" } });
                    }

                    Attach(response, Succeeded(ref state, done.Pick, done.Start, response.Usage));
                    RequestEnded(state.RequestedRoute, state.StartedAt, null);
                    return response;
                }

                Exception error = done.Task.Exception?.InnerException ?? new OperationCanceledException("The attempt was cancelled.", null, cancellationToken);
                if (cancellationToken.IsCancellationRequested)
                {
                    Cancelled(ref state, done.Pick, done.Start);
                    foreach (HedgedAttempt other in running)
                    {
                        state.AttemptSpan = other.Span;
                        other.Cancel();
                        Cancelled(ref state, other.Pick, other.Start);
                    }

                    running.Clear();
                    var cancelled = error as OperationCanceledException ?? new OperationCanceledException(null, error, cancellationToken);
                    RequestEnded(state.RequestedRoute, state.StartedAt, cancelled);
                    throw cancelled;
                }

                bool timedOut = done.TimedOut;
                if (!Failed(ref state, done.Pick, error, timedOut ? done.Pick.Deployment.AttemptTimeout : null, done.Start))
                {
                    foreach (HedgedAttempt other in running)
                    {
                        Supersede(ref state, other);
                    }

                    running.Clear();
                    RequestEnded(state.RequestedRoute, state.StartedAt, error);
                    ExceptionDispatchInfo.Throw(error);
                }

                if (running.Count == 0)
                {
                    // Nothing else is running: fail over now rather than after a hedging delay.
                    if (!NextPick(ref state, out Pick next, out long nextStart))
                    {
                        Exception exhausted = Exhausted(ref state);
                        RequestEnded(state.RequestedRoute, state.StartedAt, exhausted);
                        throw exhausted;
                    }

                    committed = false;
                    running.Add(StartHedged(ref state, next, nextStart, messages, options, hedge: false, onFirstUpdate, cancellationToken));
                }
            }
        }
        finally
        {
            foreach (HedgedAttempt r in running)
            {
                r.Cancel();
            }

            state.Dispose();
        }
    }

    /// <summary>The hedging delay after an attempt on <paramref name="d"/> started: its latency (streams: time to first update) percentile, else the fixed delay.</summary>
    private static TimeSpan? HedgeDelay(HedgingOptions hedging, Deployment d, bool streaming = false) =>
        hedging.DelayPercentile is double p && d.LatencyAt(p, streaming) is TimeSpan measured ? measured : hedging.Delay;

    /// <summary>Starts a streaming attempt up to its first update, with its own cancellation (time-to-first-token timeout included) and span.</summary>
    private StreamAttempt StartStream(
        ref RequestState state, in Pick pick, long start, IEnumerable<ChatMessage> messages, ChatOptions? options, bool hedge, CancellationToken cancellationToken)
    {
        Deployment d = pick.Deployment;
        Activity? span = BeginHedgedAttempt(ref state, pick, d.TimeToFirstTokenTimeout, hedge, out CancellationTokenSource cts, out CancellationTokenRegistration link, cancellationToken);
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        Task<bool> first;
        try
        {
            updates = d.Client.GetStreamingResponseAsync(messages, AttemptOptions(d, options, state.Scope.Strip), cts.Token).GetAsyncEnumerator(cts.Token);
            first = updates.MoveNextAsync().AsTask();
        }
#pragma warning disable CA1031 // Handled with the attempt's other failures.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            first = Task.FromException<bool>(ex);
        }

        EndHedgedStart(ref state, span);
        return new StreamAttempt(pick, start, updates, first, cts, link, span, hedge);
    }

    /// <summary>Cancels a streaming attempt another one beat to its first update, and records it as superseded.</summary>
    private void SupersedeStream(ref RequestState state, StreamAttempt loser)
    {
        loser.Abandon();
        RecordSuperseded(ref state, loser.Pick, loser.Start, loser.Span);
    }

    /// <summary>One streaming attempt of a hedged request, racing to its first update.</summary>
    private sealed class StreamAttempt(
        Pick pick, long start, IAsyncEnumerator<ChatResponseUpdate>? updates, Task<bool> first, CancellationTokenSource timeout, CancellationTokenRegistration link, Activity? span, bool hedge)
    {
        public Pick Pick { get; } = pick;

        public long Start { get; } = start;

        public IAsyncEnumerator<ChatResponseUpdate>? Updates { get; } = updates;

        /// <summary>The first MoveNextAsync: true with a first update, false for a stream that ended empty.</summary>
        public Task<bool> First { get; } = first;

        /// <summary>The attempt's cancellation: the caller's, its time-to-first-token timeout, or a lost race.</summary>
        public CancellationTokenSource Timeout { get; } = timeout;

        public CancellationTokenRegistration Link { get; } = link;

        public Activity? Span { get; } = span;

        public bool Hedge { get; } = hedge;

        /// <summary>Frees the cancellation of an attempt that failed.</summary>
        public void Release()
        {
            Link.Dispose();
            Timeout.Dispose();
        }

        /// <summary>Cancels a running attempt and disposes its stream once its pending read has finished (never while it runs).</summary>
        public void Abandon()
        {
            Timeout.Cancel();
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

            await DisposeQuietlyAsync(Updates).ConfigureAwait(false);
            Release();
        }
    }

    /// <summary>
    /// Starts an attempt with its own cancellation (so a loser can be cancelled alone) and its own span; with
    /// <paramref name="onFirstUpdate"/>, as a stream collected into the response, whose first update completes
    /// <see cref="HedgedAttempt.FirstUpdate"/>.
    /// </summary>
    private HedgedAttempt StartHedged(
        ref RequestState state, in Pick pick, long start, IEnumerable<ChatMessage> messages, ChatOptions? options, bool hedge, bool onFirstUpdate, CancellationToken cancellationToken)
    {
        Deployment d = pick.Deployment;
        Activity? span = BeginHedgedAttempt(ref state, pick, d.AttemptTimeout, hedge, out CancellationTokenSource cts, out CancellationTokenRegistration link, cancellationToken);
        Task<ChatResponse> task;

        // Continuations run inline (like a provider's own task), so the request goes on where the first update arrived.
        TaskCompletionSource? firstUpdate = onFirstUpdate ? new TaskCompletionSource() : null;
        try
        {
            ChatOptions? attemptOptions = AttemptOptions(d, options, state.Scope.Strip);
            task = firstUpdate is null
                ? d.Client.GetResponseAsync(messages, attemptOptions, cts.Token)
                : CollectAsync(d.Client.GetStreamingResponseAsync(messages, attemptOptions, cts.Token), firstUpdate, cts.Token);
        }
#pragma warning disable CA1031 // Handled with the attempt's other failures.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            task = Task.FromException<ChatResponse>(ex);
        }

        EndHedgedStart(ref state, span);
        return new HedgedAttempt(pick, start, task, cts, link, span, hedge) { FirstUpdate = firstUpdate?.Task };
    }

    /// <summary>Collects a stream into one response, completing <paramref name="firstUpdate"/> when the first update arrives (a failure leaves it pending).</summary>
    private static async Task<ChatResponse> CollectAsync(IAsyncEnumerable<ChatResponseUpdate> stream, TaskCompletionSource firstUpdate, CancellationToken cancellationToken)
    {
        List<ChatResponseUpdate> updates = [];
        IAsyncEnumerator<ChatResponseUpdate> enumerator = stream.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                updates.Add(enumerator.Current);
                if (updates.Count == 1)
                {
                    firstUpdate.TrySetResult();
                }
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }

        // A stream that ended without an update is an (empty) answer: it completes the attempt, not the first update.
        return updates.ToChatResponse();
    }

    /// <summary>Cancels an attempt another one beat, and records it as superseded.</summary>
    private void Supersede(ref RequestState state, HedgedAttempt loser)
    {
        loser.Cancel();
        RecordSuperseded(ref state, loser.Pick, loser.Start, loser.Span);
    }

    /// <summary>Records a superseded attempt: its probe slots back, no health verdict, a log record and its span ended.</summary>
    private void RecordSuperseded(ref RequestState state, in Pick pick, long start, Activity? span)
    {
        Deployment d = pick.Deployment;
        long end = _clock.Now();
        TimeSpan elapsed = _clock.Elapsed(start, end);
        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        ReleaseProbe(d, pick, end);
        string route = state.CurrentRouteName;
        state.Log.Add(new AttemptRecord(d.Name, route, AttemptOutcome.Superseded, elapsed));
        state.AttemptSpan = span;
        AttemptEnded(ref state, d, route, AttemptOutcome.Superseded, elapsed, error: null, failure: null);
    }

    /// <summary>
    /// What every hedged attempt starts with: its own cancellation (after <paramref name="timeout"/>, if any, or with the
    /// caller's token), its span (current until <see cref="EndHedgedStart"/>), and the hedge's counter.
    /// </summary>
    private Activity? BeginHedgedAttempt(
        ref RequestState state, in Pick pick, TimeSpan? timeout, bool hedge, out CancellationTokenSource cts, out CancellationTokenRegistration link, CancellationToken cancellationToken)
    {
        cts = timeout is TimeSpan t ? new CancellationTokenSource(t, _time) : new CancellationTokenSource();
        link = cancellationToken.UnsafeRegister(CancelSource, cts);
        Activity? span = StartAttempt(ref state, pick);
        if (hedge)
        {
            span?.SetTag(Tags.Hedge, true);
            if (Hedges.Enabled)
            {
                Hedges.Add(1, new TagList { { Tags.Route, state.RequestedRoute }, { Tags.Deployment, pick.Deployment.Name }, { Tags.Outcome, "started" } });
            }
        }

        return span;
    }

    /// <summary>After the provider call started: the next attempt's span is the request span's child too, not this one's.</summary>
    private static void EndHedgedStart(ref RequestState state, Activity? span)
    {
        if (span is not null)
        {
            Activity.Current = span.Parent;
        }

        state.AttemptSpan = null;
    }

    /// <summary>Waits for the first of the running attempts' tasks or, when one is due, the hedging delay (then returns <see cref="HedgeDue"/>).</summary>
    private async Task<Task> FirstOrHedgeAsync(List<Task> running, TimeSpan? delay)
    {
        using var delayCancel = new CancellationTokenSource();
        Task? wait = delay is TimeSpan d ? Task.Delay(d, _time, delayCancel.Token) : null;
        if (wait is not null)
        {
            running.Add(wait);
        }

        Task finished = await Task.WhenAny(running).ConfigureAwait(false);
#pragma warning disable CA1849 // CancelAsync would run the delay's cancellation on the thread pool and resume the request there.
        delayCancel.Cancel();
#pragma warning restore CA1849
        return ReferenceEquals(finished, wait) ? HedgeDue : finished;
    }

    /// <summary>One attempt of a hedged request.</summary>
    private sealed class HedgedAttempt(Pick pick, long start, Task<ChatResponse> task, CancellationTokenSource cts, CancellationTokenRegistration link, Activity? span, bool hedge)
    {
        public Pick Pick { get; } = pick;

        public long Start { get; } = start;

        public Task<ChatResponse> Task { get; } = task;

        public Activity? Span { get; } = span;

        public bool Hedge { get; } = hedge;

        /// <summary>With <see cref="HedgingOptions.OnFirstUpdate"/>, completes when the attempt's stream sends its first update; otherwise <see langword="null"/>.</summary>
        public Task? FirstUpdate { get; init; }

        /// <summary>Whether the attempt's own timeout (not the caller) cancelled it.</summary>
        public bool TimedOut { get; private set; }

        /// <summary>Frees the attempt's cancellation after it finished.</summary>
        public void Release()
        {
            TimedOut = cts.IsCancellationRequested;
            link.Dispose();
            cts.Dispose();
        }

        /// <summary>Cancels a running attempt; a late failure of its task is observed so it never goes unobserved.</summary>
        public void Cancel()
        {
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already finished and released.
            }

            _ = Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            link.Dispose();
            cts.Dispose();
        }
    }
}
