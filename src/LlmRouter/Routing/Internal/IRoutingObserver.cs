using System.Diagnostics;
using LlmRouter.Health.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// Receives the routing's outcomes, one call each: the runners and <see cref="RoutedRequest"/> report here and never
/// record spans, metrics or logs themselves. <see cref="RoutingTelemetry"/> turns them into OpenTelemetry spans and
/// metrics and source-generated logs; every member must be cheap while nobody listens.
/// </summary>
internal interface IRoutingObserver
{
    /// <summary>An attempt is about to call its deployment; returns its span, if traced (current until the call has started).</summary>
    Activity? AttemptStarting(RoutedRequest request, in Pick pick);

    /// <summary>A deployment was picked after a failed attempt (a failover), or as a half-open circuit's probe.</summary>
    void Picked(RoutedRequest request, in Pick pick);

    /// <summary>An attempt ended: served, failed, timed out, cancelled or superseded; ends its span.</summary>
    void AttemptEnded(RoutedRequest request, in AttemptEnd end);

    /// <summary>An outcome changed a deployment's health: a cooldown started, a circuit opened or closed.</summary>
    void HealthChanged(Deployment deployment, HealthTransition transition, in FailureClassification failure);

    /// <summary>Nothing was available: the least recently failed deployment is attempted anyway.</summary>
    void LastResort(string route, Deployment deployment);

    /// <summary>A hedged attempt started (<paramref name="won"/> false) or served the request (true).</summary>
    void Hedged(RoutedRequest request, Deployment deployment, bool won);

    /// <summary>A deployment's rate limit had no room, so it ranked after those with room.</summary>
    void DeferredAtRateLimit(string route, Deployment deployment);

    /// <summary>A stream's serving attempt sent its first update: its span (taken off the request) now lasts as long as the stream.</summary>
    Activity? StreamServing(RoutedRequest request);

    /// <summary>A served stream ended: completed (<paramref name="error"/> null) or broken after its first update.</summary>
    void StreamEnded(Activity? servingSpan, Deployment deployment, string route, UsageDetails? usage, Exception? error);

    /// <summary>The caller stopped reading a served stream (or cancelled it) before its end.</summary>
    void StreamAbandoned(Activity? servingSpan, Activity? requestSpan);

    /// <summary>Puts the routing outcome (served deployment and route, attempts) on the request span.</summary>
    void Routed(Activity? requestSpan, RoutingReport? report);

    /// <summary>A request ended (served, failed or cancelled); <paramref name="startedAt"/> is <see cref="RoutingTelemetry.NotTimed"/> when not timed.</summary>
    void RequestEnded(string route, long startedAt, Exception? error);
}
