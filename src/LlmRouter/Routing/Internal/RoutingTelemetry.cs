using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmRouter.Health.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using static LlmRouter.Telemetry.RouterTelemetry;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// The routing's spans, metrics and logs (see <see cref="LlmRouterTelemetry"/>): the <see cref="IRoutingObserver"/> a
/// router reports to. Each member is a few flag reads while nobody listens.
/// </summary>
internal sealed class RoutingTelemetry(RouterRuntime runtime) : IRoutingObserver
{
    /// <summary>A request start time meaning "not timed" (nobody records request durations).</summary>
    public const long NotTimed = long.MinValue;

    public Activity? AttemptStarting(RoutedRequest request, in Pick pick)
    {
        Deployment d = pick.Deployment;
        Activity? span = Source.StartActivity($"attempt {d.Name}", ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(Tags.DeploymentName, d.Name);
            span.SetTag(Tags.Route, request.CurrentRouteName);
            span.SetTag(Tags.Provider, d.ProviderName);
            span.SetTag(Tags.RequestModel, d.ModelId);
            span.SetTag(Tags.AttemptNumber, request.Attempts);
            if (pick.CircuitProbe)
            {
                span.SetTag(Tags.Probe, true);
            }

            if (request.Attempts > 1 && request.LastFailure is { } failed)
            {
                // This attempt exists because the previous one failed: why, and from where.
                span.SetTag(Tags.FailoverReason, failed.FailureKind is FailureKind k ? Name(k) : Name(failed.Outcome));
                span.SetTag(Tags.FailoverFrom, failed.Deployment);
            }
        }

        return span;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // Failovers and probes only.
    public void Picked(RoutedRequest request, in Pick pick)
    {
        if (request.Attempts > 1 && Failovers.Enabled && request.LastFailure is { } failed)
        {
            Failovers.Add(1, new TagList
            {
                { Tags.Route, request.RequestedRoute },
                { Tags.DeploymentName, failed.Deployment },
                { Tags.FailoverReason, failed.FailureKind is FailureKind k ? Name(k) : Name(failed.Outcome) },
            });
        }

        if (pick.CircuitProbe && CircuitTransitions.Enabled)
        {
            CircuitTransitions.Add(1, new KeyValuePair<string, object?>(Tags.DeploymentName, pick.Deployment.Name), new KeyValuePair<string, object?>(Tags.CircuitStateName, "half_open"));
        }
    }

    public void AttemptEnded(RoutedRequest request, in AttemptEnd end)
    {
        if (request.AttemptSpan is not null || Attempts.Enabled || AttemptDuration.Enabled || TimeToFirstChunk.Enabled)
        {
            Record(request, end);
        }

        if (end.Outcome == AttemptOutcome.Succeeded)
        {
            CountTokens(end.Deployment, end.Route, end.Usage);
        }
        else if (end.Failure is { } c)
        {
            Log(request, end, c);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // Transitions are rare.
    public void HealthChanged(Deployment deployment, HealthTransition transition, in FailureClassification failure)
    {
        switch (transition)
        {
            case HealthTransition.CooledDown:
                if (Cooldowns.Enabled)
                {
                    Cooldowns.Add(1, new KeyValuePair<string, object?>(Tags.DeploymentName, deployment.Name), new KeyValuePair<string, object?>(Tags.FailureKindName, Name(failure.Kind)));
                }

                if (deployment.CooldownUntil is DateTimeOffset until)
                {
                    RoutingLog.CooledDown(runtime.Logger, deployment.Name, until, failure.Kind, failure.StatusCode);
                }

                break;
            case HealthTransition.Throttled:
                if (runtime.Logger.IsEnabled(LogLevel.Debug))
                {
                    RoutingLog.Throttled(runtime.Logger, deployment.Name, runtime.Clock.ToUtc(deployment.Health.ThrottledUntil), failure.StatusCode);
                }

                break;
            case HealthTransition.CircuitOpened:
                CountCircuit(deployment, "open");
                RoutingLog.CircuitOpened(runtime.Logger, deployment.Name, deployment.Health.ConsecutiveFailures, runtime.Settings.Health.BreakDuration);
                break;
            case HealthTransition.CircuitClosed:
                RoutingLog.CircuitClosed(runtime.Logger, deployment.Name);
                CountCircuit(deployment, "closed");
                break;
        }
    }

    public void LastResort(string route, Deployment deployment) => RoutingLog.LastResortAttempt(runtime.Logger, route, deployment.Name);

    public void Hedged(RoutedRequest request, Deployment deployment, bool won)
    {
        if (!won)
        {
            request.AttemptSpan?.SetTag(Tags.Hedge, true);
        }

        if (Hedges.Enabled)
        {
            Hedges.Add(1, new TagList { { Tags.Route, request.RequestedRoute }, { Tags.DeploymentName, deployment.Name }, { Tags.Outcome, won ? "won" : "started" } });
        }
    }

    public void DeferredAtRateLimit(string route, Deployment deployment)
    {
        if (RateLimitDeferrals.Enabled)
        {
            RateLimitDeferrals.Add(1, new KeyValuePair<string, object?>(Tags.Route, route), new KeyValuePair<string, object?>(Tags.DeploymentName, deployment.Name));
        }
    }

    public Activity? StreamServing(RoutedRequest request)
    {
        Activity? span = request.AttemptSpan;
        request.AttemptSpan = null;
        span?.SetTag(Tags.AttemptOutcomeName, "succeeded");
        return span;
    }

    public void StreamEnded(Activity? servingSpan, Deployment deployment, string route, UsageDetails? usage, Exception? error)
    {
        if (error is not null)
        {
            RoutingLog.StreamFailedAfterFirstUpdate(runtime.Logger, deployment.Name, route, error.GetType().Name);
        }
        else
        {
            CountTokens(deployment, route, usage);
        }

        if (servingSpan is not { IsAllDataRequested: true })
        {
            return;
        }

        servingSpan.SetTag(Tags.Outcome, error is null ? "completed" : "broken");
        if (error is not null)
        {
            servingSpan.SetTag(Tags.ErrorType, error.GetType().FullName);
            servingSpan.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        }
    }

    public void StreamAbandoned(Activity? servingSpan, Activity? requestSpan)
    {
        servingSpan?.SetTag(Tags.Outcome, "abandoned");
        requestSpan?.SetTag(Tags.Outcome, "abandoned");
    }

    public void RequestEnded(string route, long startedAt, Exception? error)
    {
        if (Requests.Enabled || RequestDuration.Enabled)
        {
            CountRequest(route, startedAt, error);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // Keeps the TagList out of the runners' frames while nobody listens.
    private void CountRequest(string route, long startedAt, Exception? error)
    {
        var tags = new TagList
        {
            { Tags.Route, route },
            { Tags.Outcome, error is null ? "served" : error is OperationCanceledException ? "cancelled" : "failed" },
        };
        if (error is not null)
        {
            tags.Add(Tags.ErrorType, error.GetType().FullName);
        }

        Requests.Add(1, tags);
        if (startedAt != NotTimed)
        {
            RequestDuration.Record(runtime.Clock.Elapsed(startedAt, runtime.Clock.Now()).TotalSeconds, tags);
        }
    }

    /// <summary>Puts the routing outcome on the request span.</summary>
    public void Routed(Activity? span, RoutingReport? report)
    {
        if (span is not { IsAllDataRequested: true } || report is null)
        {
            return;
        }

        span.SetTag(Tags.Route, report.RequestedRoute);
        span.SetTag(Tags.ServedRoute, report.Route);
        span.SetTag(Tags.DeploymentName, report.Deployment);
        span.SetTag(Tags.AttemptCount, report.AttemptCount);
        if (runtime.FindDeployment(report.Deployment) is { ProviderName: { } provider })
        {
            span.SetTag(Tags.Provider, provider);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Record(RoutedRequest request, in AttemptEnd end)
    {
        if (request.AttemptSpan is { } span)
        {
            request.AttemptSpan = null;
            if (span.IsAllDataRequested)
            {
                span.SetTag(Tags.AttemptOutcomeName, Name(end.Outcome));
                if (end.Error is { } error)
                {
                    span.SetTag(Tags.ErrorType, error.GetType().FullName);
                    span.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
                }

                if (end.Failure is { } f)
                {
                    span.SetTag(Tags.FailureKindName, Name(f.Kind));
                    if (f.StatusCode is int status)
                    {
                        span.SetTag(Tags.HttpStatus, status);
                    }
                }
            }

            span.Dispose();
        }

        bool streaming = request.Scope.Streaming;
        if (Attempts.Enabled || AttemptDuration.Enabled || (TimeToFirstChunk.Enabled && streaming))
        {
            Deployment d = end.Deployment;
            var tags = new TagList
            {
                { Tags.Route, end.Route },
                { Tags.DeploymentName, d.Name },
                { Tags.Provider, d.ProviderName },
                { Tags.AttemptOutcomeName, Name(end.Outcome) },
            };
            if (end.Error is { } error)
            {
                tags.Add(Tags.ErrorType, error.GetType().FullName);
            }

            Attempts.Add(1, tags);
            AttemptDuration.Record(end.Elapsed.TotalSeconds, tags);
            if (streaming && end.Outcome == AttemptOutcome.Succeeded)
            {
                TimeToFirstChunk.Record(end.Elapsed.TotalSeconds, new TagList { { Tags.Route, end.Route }, { Tags.DeploymentName, d.Name } });
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Log(RoutedRequest request, in AttemptEnd end, in FailureClassification c)
    {
        // The one failure without an exception is an answer refused by the provider's content filter.
        string errorType = end.Error?.GetType().Name ?? nameof(ChatFinishReason.ContentFilter);
        string deployment = end.Deployment.Name;
        if (end.TimedOutAfter is TimeSpan after)
        {
            RoutingLog.AttemptTimedOut(runtime.Logger, request.Attempts, deployment, end.Route, after);
        }
        else if (end.FailedOver)
        {
            RoutingLog.AttemptFailedOver(runtime.Logger, request.Attempts, deployment, end.Route, c.Kind, c.StatusCode, errorType);
        }
        else
        {
            RoutingLog.AttemptFailedStop(runtime.Logger, request.Attempts, deployment, end.Route, c.Kind, c.StatusCode, errorType);
        }
    }

    private static void CountTokens(Deployment d, string route, UsageDetails? usage)
    {
        if (usage is not null && Tokens.Enabled)
        {
            CountTokensCore(d, route, usage);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CountTokensCore(Deployment d, string route, UsageDetails usage)
    {
        if (usage.InputTokenCount is long input)
        {
            Tokens.Add(input, new TagList { { Tags.Route, route }, { Tags.DeploymentName, d.Name }, { Tags.TokenType, "input" } });
        }

        if (usage.OutputTokenCount is long output)
        {
            Tokens.Add(output, new TagList { { Tags.Route, route }, { Tags.DeploymentName, d.Name }, { Tags.TokenType, "output" } });
        }
    }

    private static void CountCircuit(Deployment d, string state)
    {
        if (CircuitTransitions.Enabled)
        {
            CircuitTransitions.Add(1, new KeyValuePair<string, object?>(Tags.DeploymentName, d.Name), new KeyValuePair<string, object?>(Tags.CircuitStateName, state));
        }
    }
}
