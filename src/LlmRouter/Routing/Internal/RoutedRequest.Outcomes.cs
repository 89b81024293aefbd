using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmRouter.Health.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>The outcome of each attempt, recorded in one place whichever runner made it.</summary>
internal sealed partial class RoutedRequest
{
    /// <summary>
    /// Concludes an attempt that returned a response: serves it (the report attached; returns true), or, when its
    /// provider's content filter refused it and the route has a content-policy fallback, records it as failed and moves
    /// to that route (returns false: pick again; the answer is kept in case the fallback has nothing to offer).
    /// </summary>
    public bool Serve(in Pick pick, long start, ChatResponse response)
    {
        if (ShouldTakeContentFallback(response))
        {
            Filtered(pick, start);
            _filteredAnswer = response;
            _filteredAt = Attempts;
            return false;
        }

        Attach(response, Succeeded(pick, start, response.Usage));
        return true;
    }

    /// <summary>Serves a response as it is (a hedged attempt's): records the success and attaches the report.</summary>
    public void AttachSuccess(in Pick pick, long start, ChatResponse response) => Attach(response, Succeeded(pick, start, response.Usage));

    /// <summary>
    /// When no deployment is left to try: the filtered answer the content-policy fallback could not replace (as its
    /// provider gave it, served by the filtered attempt), else the error that ends the request. Reports the end.
    /// </summary>
    public Exception? Finish(out ChatResponse? answer)
    {
        if (_filteredAnswer is { } filtered && Attempts == _filteredAt)
        {
            AttemptRecord[] all = _log.ToArrayOrNull()!;
            AttemptRecord last = all[^1];
            Attach(filtered, new RoutingReport(RequestedRoute, last.Deployment, last.Route, last.Duration, all.Length > 1 ? all[..^1] : null));
            End(null);
            answer = filtered;
            return null;
        }

        answer = null;
        Exception exhausted = Exhausted();
        End(exhausted);
        return exhausted;
    }

    /// <summary>Records a successful attempt (health, latency, probe slots, rate-limit tokens, observer) and returns the report.</summary>
    public RoutingReport Succeeded(in Pick pick, long start, UsageDetails? usage)
    {
        Deployment d = pick.Deployment;
        RouterClock clock = _runtime.Clock;
        long end = clock.Now();
        TimeSpan elapsed = clock.Elapsed(start, end);
        double seconds = elapsed.TotalSeconds;
        int reference = _runtime.Settings.Latency.ReferenceOutputTokens;
        if (usage?.OutputTokenCount is long tokens && tokens > reference)
        {
            seconds = seconds * reference / tokens;
        }

        HealthTransition transition = d.HealthState.RecordSuccess(seconds, Scope.Streaming, end, pick.CircuitProbe, elapsed.TotalSeconds);
        if (usage?.OutputTokenCount is long output && d.RateLimits.Any)
        {
            d.RateLimits.UseOutputTokens(end, output);
        }

        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        if (transition == HealthTransition.CircuitClosed)
        {
            _runtime.Observer.HealthChanged(d, transition, default);
        }

        string route = CurrentRouteName;
        _runtime.Observer.AttemptEnded(this, new AttemptEnd(d, route, AttemptOutcome.Succeeded, elapsed) { Usage = usage });
        return new RoutingReport(RequestedRoute, d.Name, route, elapsed, _log.ToArrayOrNull());
    }

    /// <summary>
    /// Records a failed attempt; returns whether to fail over (false: the caller rethrows the error unchanged). An attempt
    /// that fails after the router was disposed gets no health verdict and ends the request.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // Keeps the failure path (messages, classification) out of the runners' frames.
    public bool Failed(in Pick pick, Exception error, TimeSpan? timedOutAfter, long start)
    {
        if (_runtime.IsDisposed)
        {
            // The router was disposed under the attempt, and its provider clients with it: no deployment's fault, none worth trying.
            _lastError = error;
            EndedWithoutVerdict(pick, start, AttemptOutcome.Failed);
            return false;
        }

        Deployment d = pick.Deployment;
        long end = _runtime.Clock.Now();
        TimeSpan elapsed = _runtime.Clock.Elapsed(start, end);
        FailureClassification c = Classify(d, error, timedOutAfter);
        string route = CurrentRouteName;
        AttemptOutcome outcome = timedOutAfter is null ? AttemptOutcome.Failed : AttemptOutcome.TimedOut;
        _log.Add(new AttemptRecord(d.Name, route, outcome, elapsed, c.Kind, c.StatusCode, error.GetType().Name));
        Scope.MarkTried(d);
        _lastError = timedOutAfter is TimeSpan limit
            ? new TimeoutException($"The attempt on deployment '{d.Name}' did not {(Scope.Streaming ? "produce its first update" : "complete")} within {limit}.", error)
            : error;

        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        bool failover;
        switch (c.Kind)
        {
            case FailureKind.InvalidRequest:
                ReleaseProbe(pick, end);
                failover = false;
                break;

            case FailureKind.ContentFiltered:
                // Not the deployment's fault: no health penalty. Over to the content-policy fallback route, once.
                ReleaseProbe(pick, end);
                failover = ToContentPolicyFallback();
                break;

            case FailureKind.ContextWindowExceeded:
                ReleaseProbe(pick, end);
                Scope.MinContextWindow = Math.Max(Scope.MinContextWindow, (d.ContextWindow ?? 0) + 1L);
                failover = true;
                break;

            default:
                d.Stats.RecordFailure(timedOutAfter is null ? null : elapsed.TotalSeconds, Scope.Streaming, end);
                bool limitUsedUp = c.Kind == FailureKind.RateLimited && d.RateLimits.Any && !d.RateLimits.HasRoom(end, 0);
                HealthTransition transition = d.Health.RecordFailure(end, c.Kind, c.RetryAfter, pick.CircuitProbe, limitUsedUp);
                _runtime.Observer.AttemptEnded(this, new AttemptEnd(d, route, outcome, elapsed) { Error = error, Failure = c, FailedOver = true, TimedOutAfter = timedOutAfter });
                _runtime.Observer.HealthChanged(d, transition, c);
                return true;
        }

        _runtime.Observer.AttemptEnded(this, new AttemptEnd(d, route, outcome, elapsed) { Error = error, Failure = c, FailedOver = failover, TimedOutAfter = timedOutAfter });
        return failover;
    }

    /// <summary>Records an attempt the caller cancelled: its probe slots back, no health verdict.</summary>
    public void Cancelled(in Pick pick, long start) => EndedWithoutVerdict(pick, start, AttemptOutcome.Cancelled);

    /// <summary>Records an attempt another one beat (hedging): its probe slots back, no health verdict (its latency is unknown, not bad).</summary>
    public void Superseded(in Pick pick, long start, Activity? span)
    {
        AttemptSpan = span;
        EndedWithoutVerdict(pick, start, AttemptOutcome.Superseded);
    }

    /// <summary>The error of a request that could not be served: why no deployment was available, or every attempt's failure.</summary>
    public Exception Exhausted()
    {
        if (Attempts == 0)
        {
            if (_matching == 0 && _tooSmall > 0 && _overBudget == 0)
            {
                return new NoAvailableDeploymentException(RequestedRoute, Scope.RequiredContext);
            }

            if (_matching == 0 && _overBudget > 0)
            {
                return new NoAvailableDeploymentException(RequestedRoute, NoAvailableDeploymentReason.DeploymentBudgetsExhausted, null, []);
            }

            if (_matching == 0)
            {
                return new NoAvailableDeploymentException(RequestedRoute, NoAvailableDeploymentReason.NoneMatchConstraints, null, []);
            }

            long at = Math.Max(_runtime.Clock.Now(), _unavailable.EarliestAvailable);
            return new NoAvailableDeploymentException(
                RequestedRoute, NoAvailableDeploymentReason.AllUnavailable, _runtime.Clock.ToUtc(at), _unavailable.Names);
        }

        return new AllAttemptsFailedException(RequestedRoute, _log.ToArrayOrNull() ?? [], _lastError ?? new InvalidOperationException("No attempt error was recorded."));
    }

    private static void Attach(ChatResponse response, RoutingReport report) =>
        (response.AdditionalProperties ??= new())[RoutingChatOptionsExtensions.ReportKey] = report;

    private FailureClassification Classify(Deployment d, Exception error, TimeSpan? timedOutAfter)
    {
        if (timedOutAfter is not null)
        {
            return new(FailureKind.Transient);
        }

        FailureClassification c = _runtime.Classifier.Classify(error);
        if (c.RetryAfter is null && c.Kind is FailureKind.RateLimited or FailureKind.Transient && d.HttpClientName is { } httpClient && _runtime.RetryAfterHints is { } hints)
        {
            c = c with { RetryAfter = hints.Remaining(httpClient, c.StatusCode, _runtime.Time.GetUtcNow()) };
        }

        return c;
    }

    private void EndedWithoutVerdict(in Pick pick, long start, AttemptOutcome outcome)
    {
        Deployment d = pick.Deployment;
        long end = _runtime.Clock.Now();
        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        ReleaseProbe(pick, end);
        TimeSpan elapsed = _runtime.Clock.Elapsed(start, end);
        string route = CurrentRouteName;
        _log.Add(new AttemptRecord(d.Name, route, outcome, elapsed));
        _runtime.Observer.AttemptEnded(this, new AttemptEnd(d, route, outcome, elapsed));
    }

    /// <summary>Whether a response that finished with a content filter should go to the route's content-policy fallback.</summary>
    private bool ShouldTakeContentFallback(ChatResponse response) =>
        _routeIndex < _chainLength && _chain[_routeIndex].ContentPolicyFallback is not null
        && !_contentFallbackUsed && response.FinishReason == ChatFinishReason.ContentFilter;

    /// <summary>Records a response refused by the provider's content filter as a failed attempt and moves to the content-policy fallback.</summary>
    private void Filtered(in Pick pick, long start)
    {
        Deployment d = pick.Deployment;
        long end = _runtime.Clock.Now();
        TimeSpan elapsed = _runtime.Clock.Elapsed(start, end);
        string route = CurrentRouteName;
        var c = new FailureClassification(FailureKind.ContentFiltered);
        _log.Add(new AttemptRecord(d.Name, route, AttemptOutcome.Failed, elapsed, c.Kind, null, nameof(ChatFinishReason.ContentFilter)));
        Scope.MarkTried(d);
        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        ReleaseProbe(pick, end);
        _runtime.Observer.AttemptEnded(this, new AttemptEnd(d, route, AttemptOutcome.Failed, elapsed) { Failure = c, FailedOver = true });
        ToContentPolicyFallback();
    }

    /// <summary>Switches the request to its current route's content-policy fallback route (once per request).</summary>
    private bool ToContentPolicyFallback()
    {
        if (_contentFallbackUsed || _routeIndex >= _chainLength || _chain[_routeIndex].ContentPolicyFallback is not { } fallback)
        {
            return false;
        }

        _contentFallbackUsed = true;
        if (_selectionActive)
        {
            _selection.Dispose();
            _selectionActive = false;
        }

        _chain = fallback.Chain;
        _chainLength = Scope.Constraints is { DisableFallbacks: true } ? 1 : fallback.Chain.Length;
        _routeIndex = 0;
        _routeAttempts = 0;
        return true;
    }

    private static void ReleaseProbe(in Pick pick, long now)
    {
        if (pick.CircuitProbe)
        {
            pick.Deployment.Health.ReleaseProbe(now);
        }
    }
}

/// <summary>How one attempt ended, as the observer receives it.</summary>
internal readonly record struct AttemptEnd(Deployment Deployment, string Route, AttemptOutcome Outcome, TimeSpan Elapsed)
{
    /// <summary>The attempt's error, for failed and timed-out attempts.</summary>
    public Exception? Error { get; init; }

    /// <summary>How the failure was classified.</summary>
    public FailureClassification? Failure { get; init; }

    /// <summary>Whether the router fails over after this failure (false: the error goes to the caller).</summary>
    public bool FailedOver { get; init; }

    /// <summary>The timeout the attempt ran into, when it timed out.</summary>
    public TimeSpan? TimedOutAfter { get; init; }

    /// <summary>The usage a served attempt reported.</summary>
    public UsageDetails? Usage { get; init; }
}
