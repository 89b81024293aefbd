using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmRouter.Health.Internal;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using static LlmRouter.Telemetry.RouterTelemetry;

namespace LlmRouter;

/// <summary>The router's traces and metrics (see <see cref="LlmRouterTelemetry"/>); every method is a no-op while nobody listens.</summary>
public sealed partial class LlmRouterChatClient
{
    private const long NotTimed = long.MinValue;

    /// <summary>
    /// A non-streaming request while someone listens to the activity source: the attempt loop runs in this async method
    /// (never on the synchronous fast path), so request and attempt spans can be current without leaking to the caller.
    /// </summary>
    private async Task<ChatResponse> TracedResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        Activity? owned = RequestSpan.ShouldStart(messages) ? RequestSpan.Start(messages, options, streaming: false) : null;
        Activity? span = owned ?? RequestSpan.Find(messages);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            IEnumerable<ChatMessage> replayable = Replayable(messages);
            RequestState state;
            try
            {
                Begin(replayable, options, streaming: false, out state);
            }
            catch (LlmRouterException ex)
            {
                RequestEnded(RouteTag(options?.ModelId), NotTimed, ex);
                throw;
            }

            span?.SetTag(Tags.Route, state.RequestedRoute);
            if (!NextPick(ref state, out Pick pick, out long start))
            {
                Exception exhausted = Exhausted(ref state);
                RequestEnded(state.RequestedRoute, state.StartedAt, exhausted);
                state.Dispose();
                throw exhausted;
            }

            ChatResponse response = await (state.Chain[0].Hedging is not null
                ? HedgedAsync(state, replayable, options, pick, start, cancellationToken)
                : RunAsync(state, replayable, options, pick, started: null, start, cancellationToken)).ConfigureAwait(false);
            Routed(span, response.GetRoutingReport());
            RequestSpan.Served(owned, response.Usage, response.ModelId, response.GetCost());
            return response;
        }
        catch (Exception ex)
        {
            RequestSpan.Failed(owned, ex);
            throw;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    /// <summary>
    /// The route a model id names, as a metric tag: the route's configured name, or "(unknown)" for a name no route has
    /// (a caller's typo must not create a time series).
    /// </summary>
    internal string RouteTag(string? modelId) => ResolveRouteName(modelId) ?? UnknownRoute;

    /// <summary>Puts the routing outcome on the request span.</summary>
    private void Routed(Activity? span, RoutingReport? report)
    {
        if (span is not { IsAllDataRequested: true } || report is null)
        {
            return;
        }

        span.SetTag(Tags.Route, report.RequestedRoute);
        span.SetTag(Tags.ServedRoute, report.Route);
        span.SetTag(Tags.Deployment, report.Deployment);
        span.SetTag(Tags.AttemptCount, report.AttemptCount);
        if (FindDeployment(report.Deployment) is { ProviderName: { } provider })
        {
            span.SetTag(Tags.Provider, provider);
        }
    }

    private Deployment? FindDeployment(string name)
    {
        foreach (Deployment d in _deployments)
        {
            if (string.Equals(d.Name, name, StringComparison.Ordinal))
            {
                return d;
            }
        }

        return null;
    }

    /// <summary>Starts an attempt span under the current (request) span; call from an async method only.</summary>
    private static Activity? StartAttempt(ref RequestState state, in Pick pick)
    {
        Deployment d = pick.Deployment;
        Activity? span = Source.StartActivity($"attempt {d.Name}", ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(Tags.Deployment, d.Name);
            span.SetTag(Tags.Route, state.CurrentRouteName);
            span.SetTag(Tags.Provider, d.ProviderName);
            span.SetTag(Tags.RequestModel, d.ModelId);
            span.SetTag(Tags.AttemptNumber, state.Attempts);
            if (pick.CircuitProbe)
            {
                span.SetTag(Tags.Probe, true);
            }

            if (state.Attempts > 1 && state.Log.Last is { } failed)
            {
                // This attempt exists because the previous one failed: why, and from where.
                span.SetTag(Tags.FailoverReason, failed.FailureKind is FailureKind k ? Name(k) : Name(failed.Outcome));
                span.SetTag(Tags.FailoverFrom, failed.Deployment);
            }
        }

        state.AttemptSpan = span;
        return span;
    }

    /// <summary>Ends the attempt's span (if any) and records its metrics; inlined to a few flag reads while nobody listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AttemptEnded(ref RequestState state, Deployment d, string route, AttemptOutcome outcome, TimeSpan elapsed, Exception? error, FailureClassification? failure)
    {
        if (state.AttemptSpan is not null || Attempts.Enabled || AttemptDuration.Enabled || TimeToFirstChunk.Enabled)
        {
            AttemptEndedCore(ref state, d, route, outcome, elapsed, error, failure);
        }
    }

    private static void AttemptEndedCore(ref RequestState state, Deployment d, string route, AttemptOutcome outcome, TimeSpan elapsed, Exception? error, FailureClassification? failure)
    {
        if (state.AttemptSpan is { } span)
        {
            state.AttemptSpan = null;
            if (span.IsAllDataRequested)
            {
                span.SetTag(Tags.AttemptOutcome, Name(outcome));
                if (error is not null)
                {
                    span.SetTag(Tags.ErrorType, error.GetType().FullName);
                    span.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
                }

                if (failure is { } f)
                {
                    span.SetTag(Tags.FailureKind, Name(f.Kind));
                    if (f.StatusCode is int status)
                    {
                        span.SetTag(Tags.HttpStatus, status);
                    }
                }
            }

            span.Dispose();
        }

        if (Attempts.Enabled || AttemptDuration.Enabled || (TimeToFirstChunk.Enabled && state.Scope.Streaming))
        {
            var tags = new TagList
            {
                { Tags.Route, route },
                { Tags.Deployment, d.Name },
                { Tags.Provider, d.ProviderName },
                { Tags.AttemptOutcome, Name(outcome) },
            };
            if (error is not null)
            {
                tags.Add(Tags.ErrorType, error.GetType().FullName);
            }

            Attempts.Add(1, tags);
            AttemptDuration.Record(elapsed.TotalSeconds, tags);
            if (state.Scope.Streaming && outcome == AttemptOutcome.Succeeded)
            {
                TimeToFirstChunk.Record(elapsed.TotalSeconds, new TagList { { Tags.Route, route }, { Tags.Deployment, d.Name } });
            }
        }
    }

    /// <summary>Counts a failover when an attempt after a failed one is picked, and a half-open circuit when the pick is a probe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Picked(ref RequestState state, in Pick pick)
    {
        if (state.Attempts > 1 || pick.CircuitProbe)
        {
            PickedCore(ref state, pick);
        }
    }

    private static void PickedCore(ref RequestState state, in Pick pick)
    {
        if (state.Attempts > 1 && Failovers.Enabled && state.Log.Last is { } failed)
        {
            Failovers.Add(1, new TagList
            {
                { Tags.Route, state.RequestedRoute },
                { Tags.Deployment, failed.Deployment },
                { Tags.FailoverReason, failed.FailureKind is FailureKind k ? Name(k) : Name(failed.Outcome) },
            });
        }

        if (pick.CircuitProbe && CircuitTransitions.Enabled)
        {
            CircuitTransitions.Add(1, new KeyValuePair<string, object?>(Tags.Deployment, pick.Deployment.Name), new KeyValuePair<string, object?>(Tags.CircuitState, "half_open"));
        }
    }

    private static void Transitioned(Deployment d, HealthTransition transition, FailureKind kind)
    {
        switch (transition)
        {
            case HealthTransition.CooledDown when Cooldowns.Enabled:
                Cooldowns.Add(1, new KeyValuePair<string, object?>(Tags.Deployment, d.Name), new KeyValuePair<string, object?>(Tags.FailureKind, Name(kind)));
                break;
            case HealthTransition.CircuitOpened when CircuitTransitions.Enabled:
                CircuitTransitions.Add(1, new KeyValuePair<string, object?>(Tags.Deployment, d.Name), new KeyValuePair<string, object?>(Tags.CircuitState, "open"));
                break;
            case HealthTransition.CircuitClosed when CircuitTransitions.Enabled:
                CircuitTransitions.Add(1, new KeyValuePair<string, object?>(Tags.Deployment, d.Name), new KeyValuePair<string, object?>(Tags.CircuitState, "closed"));
                break;
        }
    }

    /// <summary>Counts the tokens a provider reported for a served attempt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CountTokens(Deployment d, string route, UsageDetails? usage)
    {
        if (usage is not null && Tokens.Enabled)
        {
            CountTokensCore(d, route, usage);
        }
    }

    private static void CountTokensCore(Deployment d, string route, UsageDetails usage)
    {
        if (usage.InputTokenCount is long input)
        {
            Tokens.Add(input, new TagList { { Tags.Route, route }, { Tags.Deployment, d.Name }, { Tags.TokenType, "input" } });
        }

        if (usage.OutputTokenCount is long output)
        {
            Tokens.Add(output, new TagList { { Tags.Route, route }, { Tags.Deployment, d.Name }, { Tags.TokenType, "output" } });
        }
    }

    /// <summary>Counts a request the router finished (served, failed or cancelled) and records its duration.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RequestEnded(string route, long startedAt, Exception? error)
    {
        if (Requests.Enabled || RequestDuration.Enabled)
        {
            RequestEndedCore(route, startedAt, error);
        }
    }

    private void RequestEndedCore(string route, long startedAt, Exception? error)
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
            RequestDuration.Record(_clock.Elapsed(startedAt, _clock.Now()).TotalSeconds, tags);
        }
    }
}
