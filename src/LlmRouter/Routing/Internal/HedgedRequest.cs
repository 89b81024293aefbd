using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// Hedging (<see cref="RouteOptions.Hedging"/>) as a coordinator over the request's routing: attempts run side by side,
/// a new one starting when the newest has not answered within the hedging delay (up to
/// <see cref="HedgingOptions.MaxExtraAttempts"/> and the route's hedged share), or at once when every running attempt
/// has failed (a plain failover). The first success wins; the others are cancelled and recorded as superseded. With
/// <see cref="HedgingOptions.OnFirstUpdate"/> non-streaming attempts are streams collected into the response: the delay
/// is one of time to first update, and the first attempt to send an update serves the request (the others are
/// superseded then, and no further hedge starts while it runs). Streams race to their first update.
/// </summary>
internal sealed class HedgedRequest
{
    /// <summary>
    /// What <see cref="FirstOrHedgeAsync"/> returns when the hedging delay passed first: a task of its own, never run.
    /// Not <c>Task.FromResult(true)</c>: that is the runtime's one cached <c>Task&lt;bool&gt;</c> for true, the very task a
    /// stream's first read returns when its update was already buffered, and that attempt would never win the race.
    /// </summary>
    private static readonly Task HedgeDue = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously).Task;

    private readonly RoutedRequest _request;
    private readonly IEnumerable<ChatMessage> _messages;
    private readonly CancellationToken _cancellationToken;
    private readonly HedgingOptions _hedging;
    private readonly bool _streaming;
    private readonly bool _collect;
    private readonly List<HedgedAttempt> _running;
    private int _hedges;

    // Collected streams: whether the running attempt has sent its first update (it serves the request; no more hedges).
    private bool _committed;

    private HedgedRequest(RoutedRequest request, IEnumerable<ChatMessage> messages, bool streaming, CancellationToken cancellationToken)
    {
        _request = request;
        _messages = messages;
        _cancellationToken = cancellationToken;
        _hedging = request.Hedging!;
        _streaming = streaming;
        _collect = !streaming && _hedging.OnFirstUpdate;
        _running = new List<HedgedAttempt>(_hedging.MaxExtraAttempts + 1);
    }

    /// <summary>A non-streaming hedged request from its first pick to its answer; releases the request.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // Its state machine would otherwise sit, zeroed, in the runner's frame.
    public static async Task<ChatResponse> RespondAsync(RoutedRequest request, IEnumerable<ChatMessage> messages, Pick pick, long start, CancellationToken cancellationToken)
    {
        var hedged = new HedgedRequest(request, messages, streaming: false, cancellationToken);
        try
        {
            var winner = (ResponseAttempt)await hedged.RaceAsync(pick, start).ConfigureAwait(false);
            ChatResponse response = winner.Task.Result;
            if (winner.Hedge)
            {
                request.Runtime.Observer.Hedged(request, winner.Pick.Deployment, won: true);
            }

            request.AttachSuccess(winner.Pick, winner.Start, response);
            request.End(null);
            return response;
        }
        catch (Exception ex)
        {
            request.End(ex);
            throw;
        }
        finally
        {
            hedged.CancelRunning();
            request.Release();
        }
    }

    /// <summary>Races streaming attempts to their first update; the winner's stream is handed back, the request is not released.</summary>
    public static async ValueTask<OpenedStream> OpenStreamAsync(RoutedRequest request, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        if (!request.TryPick(out Pick pick, out long start))
        {
            throw request.Exhausted();
        }

        var hedged = new HedgedRequest(request, messages, streaming: true, cancellationToken);
        try
        {
            var winner = (StreamAttempt)await hedged.RaceAsync(pick, start).ConfigureAwait(false);
            winner.Cancellation.CancelAfter(Timeout.InfiniteTimeSpan);
            OpenedStream opened = StreamRunner.Opened(request, winner.Pick, winner.Start, winner.Updates!, winner.First.Result, winner.Cancellation, winner.Link);
            if (winner.Hedge)
            {
                request.Runtime.Observer.Hedged(request, winner.Pick.Deployment, won: true);
            }

            return opened;
        }
        finally
        {
            hedged.CancelRunning();
        }
    }

    /// <summary>Runs attempts until one succeeds (returned; the others superseded), or throws what ends the request.</summary>
    private async Task<HedgedAttempt> RaceAsync(Pick pick, long start)
    {
        _request.FirstRoute.CountRequest();
        _running.Add(StartAttempt(pick, start, hedge: false));
        while (true)
        {
            Task finished = await FirstOrHedgeAsync(Waits(), NextHedgeDelay()).ConfigureAwait(false);
            if (ReferenceEquals(finished, HedgeDue))
            {
                Hedge();
                continue;
            }

            if (_collect && !_committed && _running.Find(r => ReferenceEquals(r.FirstUpdate, finished)) is { } leader)
            {
                Commit(leader);
                continue;
            }

            HedgedAttempt done = _running.Find(r => ReferenceEquals(r.Completion, finished))!;
            _running.Remove(done);
            done.Completed();
            if (done.Completion.IsCompletedSuccessfully)
            {
                SupersedeRunning();
                _request.AttemptSpan = done.Span; // after the losers' spans ended: the winner's outcome ends this one
                return done;
            }

            _request.AttemptSpan = done.Span;

            Exception error = done.Error(_cancellationToken);
            await done.FailedAsync().ConfigureAwait(false);
            if (_cancellationToken.IsCancellationRequested)
            {
                throw Cancelled(done, error);
            }

            if (!_request.Failed(done.Pick, error, done.TimedOut ? done.TimeoutLimit : null, done.Start))
            {
                SupersedeRunning();
                ExceptionDispatchInfo.Throw(error);
            }

            if (_running.Count == 0)
            {
                // Nothing else is running: fail over now rather than after a hedging delay.
                if (!_request.TryPick(out Pick next, out long nextStart))
                {
                    throw _request.Exhausted();
                }

                _committed = false;
                _running.Add(StartAttempt(next, nextStart, hedge: false));
            }
        }
    }

    /// <summary>The delay until the next hedge, or <see langword="null"/> when no hedge may start.</summary>
    private TimeSpan? NextHedgeDelay()
    {
        if (_committed || _hedges >= _hedging.MaxExtraAttempts || _request.Attempts >= _request.MaxAttempts)
        {
            return null;
        }

        // The newest attempt's latency (streams: time to first update) percentile, else the fixed delay.
        Deployment newest = _running[^1].Pick.Deployment;
        return _hedging.DelayPercentile is double p && newest.HealthState.LatencyAt(p, _streaming || _collect) is TimeSpan measured ? measured : _hedging.Delay;
    }

    private List<Task> Waits()
    {
        List<Task> waits = _running.ConvertAll(static r => r.Completion);
        if (_collect && !_committed)
        {
            foreach (HedgedAttempt r in _running)
            {
                waits.Add(r.FirstUpdate!);
            }
        }

        return waits;
    }

    /// <summary>Starts a hedge when the route's hedged share leaves room and a deployment is left; otherwise hedges no more.</summary>
    private void Hedge()
    {
        CompiledRoute route = _request.FirstRoute;
        bool taken = route.TryTakeHedge(_hedging.MaxHedgedShare);
        if (taken && _request.TryPick(out Pick next, out long nextStart))
        {
            _hedges++;
            _running.Add(StartAttempt(next, nextStart, hedge: true));
            return;
        }

        if (taken)
        {
            route.ReturnHedge(); // nothing to hedge with: the share is not used
        }

        _hedges = _hedging.MaxExtraAttempts; // nothing to hedge with, or the route's hedged share is used up
    }

    /// <summary>The first attempt to send an update serves the request, as a stream would: the others are cancelled.</summary>
    private void Commit(HedgedAttempt leader)
    {
        _committed = true;
        RouterRuntime runtime = _request.Runtime;
        leader.Pick.Deployment.HealthState.RecordFirstUpdate(runtime.Clock.Elapsed(leader.Start, runtime.Clock.Now()).TotalSeconds);
        foreach (HedgedAttempt loser in _running)
        {
            if (!ReferenceEquals(loser, leader))
            {
                Supersede(loser);
            }
        }

        _running.Clear();
        _running.Add(leader);
    }

    /// <summary>The caller cancelled: every attempt is recorded as cancelled; returns what to throw.</summary>
    private OperationCanceledException Cancelled(HedgedAttempt done, Exception error)
    {
        _request.Cancelled(done.Pick, done.Start);
        foreach (HedgedAttempt other in _running)
        {
            _request.AttemptSpan = other.Span;
            other.Cancel();
            _request.Cancelled(other.Pick, other.Start);
        }

        _running.Clear();
        return error as OperationCanceledException ?? new OperationCanceledException(null, error, _cancellationToken);
    }

    private void SupersedeRunning()
    {
        foreach (HedgedAttempt loser in _running)
        {
            Supersede(loser);
        }

        _running.Clear();
    }

    private void Supersede(HedgedAttempt loser)
    {
        loser.Cancel();
        _request.Superseded(loser.Pick, loser.Start, loser.Span);
    }

    /// <summary>Cancels whatever still runs when the request ends (an exception on the way out).</summary>
    private void CancelRunning()
    {
        foreach (HedgedAttempt r in _running)
        {
            r.Cancel();
        }

        _running.Clear();
    }

    /// <summary>
    /// Starts an attempt with its own cancellation (after its timeout, if any, or with the caller's token) and its own
    /// span, current only while the provider call starts: the next attempt's span is the request span's child too.
    /// </summary>
    private HedgedAttempt StartAttempt(in Pick pick, long start, bool hedge)
    {
        Deployment d = pick.Deployment;
        TimeSpan? timeout = _streaming ? d.TimeToFirstTokenTimeout : d.AttemptTimeout;
        CancellationTokenSource cts = timeout is TimeSpan t ? new CancellationTokenSource(t, _request.Runtime.Time) : new CancellationTokenSource();
        CancellationTokenRegistration link = _cancellationToken.UnsafeRegister(ResponseRunner.CancelSource, cts);
        Activity? span = _request.StartAttemptSpan(pick);
        if (hedge)
        {
            _request.Runtime.Observer.Hedged(_request, d, won: false);
        }

        HedgedAttempt attempt = _streaming ? StartStream(pick, start, cts, link, span, hedge) : StartResponse(pick, start, cts, link, span, hedge);
        if (span is not null)
        {
            Activity.Current = span.Parent;
        }

        _request.AttemptSpan = null;
        return attempt;
    }

    private StreamAttempt StartStream(in Pick pick, long start, CancellationTokenSource cts, CancellationTokenRegistration link, Activity? span, bool hedge)
    {
        Deployment d = pick.Deployment;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        Task<bool> first;
        try
        {
            updates = d.Client.GetStreamingResponseAsync(_messages, _request.OptionsFor(d), cts.Token).GetAsyncEnumerator(cts.Token);
            first = updates.MoveNextAsync().AsTask();
        }
#pragma warning disable CA1031 // Handled with the attempt's other failures.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            first = Task.FromException<bool>(ex);
        }

        return new StreamAttempt(pick, start, updates, first, cts, link, span, hedge);
    }

    private ResponseAttempt StartResponse(in Pick pick, long start, CancellationTokenSource cts, CancellationTokenRegistration link, Activity? span, bool hedge)
    {
        Deployment d = pick.Deployment;

        // Continuations run inline (like a provider's own task), so the request goes on where the first update arrived.
        TaskCompletionSource? firstUpdate = _collect ? new TaskCompletionSource() : null;
        Task<ChatResponse> task;
        try
        {
            ChatOptions? options = _request.OptionsFor(d);
            task = firstUpdate is null
                ? d.Client.GetResponseAsync(_messages, options, cts.Token)
                : CollectAsync(d.Client.GetStreamingResponseAsync(_messages, options, cts.Token), firstUpdate, cts.Token);
        }
#pragma warning disable CA1031 // Handled with the attempt's other failures.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            task = Task.FromException<ChatResponse>(ex);
        }

        return new ResponseAttempt(pick, start, task, firstUpdate?.Task, cts, link, span, hedge);
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

    /// <summary>Waits for the first of the running attempts' tasks or, when one is due, the hedging delay (then returns <see cref="HedgeDue"/>).</summary>
    private async Task<Task> FirstOrHedgeAsync(List<Task> running, TimeSpan? delay)
    {
        using var delayCancel = new CancellationTokenSource();
        Task? wait = delay is TimeSpan d ? Task.Delay(d, _request.Runtime.Time, delayCancel.Token) : null;
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
}
