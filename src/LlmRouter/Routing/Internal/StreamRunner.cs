using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using LlmRouter.Health.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>The serving attempt of a stream, once it has sent its first update (or ended empty).</summary>
internal readonly record struct OpenedStream(
    Deployment Deployment,
    string Route,
    RoutingReport Report,
    IAsyncEnumerator<ChatResponseUpdate> Updates,
    ChatResponseUpdate? First,
    CancellationTokenSource? Timeout,
    CancellationTokenRegistration Link,
    Activity? Span);

/// <summary>
/// A streaming request in two phases: opening, where attempts run until one sends its first update (failover is
/// transparent up to here; a hedged route races attempts through <see cref="HedgedRequest"/>), then relaying the serving
/// attempt's updates, where an error propagates to the caller unchanged.
/// </summary>
internal static class StreamRunner
{
    public static async IAsyncEnumerable<ChatResponseUpdate> RunAsync(
        RouterRuntime runtime, IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // Spans are current only inside this iterator's own runs, so they never leak to the caller.
        Activity? owned = RequestSpan.ShouldStart(messages) ? RequestSpan.Start(messages, options, streaming: true) : null;
        Activity? span = owned ?? (RouterTelemetry.Source.HasListeners() ? RequestSpan.Find(messages) : null);
        messages = RoutedRequest.Replayable(messages);
        RoutedRequest request = Begin(runtime, messages, options, owned, cancellationToken);
        string requestedRoute = request.RequestedRoute;
        long startedAt = request.StartedAt;
        span?.SetTag(RouterTelemetry.Tags.Route, requestedRoute);
        OpenedStream serving;
        try
        {
            serving = request.Hedging is not null
                ? await HedgedRequest.OpenStreamAsync(request, messages, cancellationToken).ConfigureAwait(false)
                : await OpenAsync(request, messages, cancellationToken).ConfigureAwait(false);
            runtime.Observer.Routed(span, serving.Report);
        }
        catch (Exception ex)
        {
            request.End(ex);
            RequestSpan.Failed(owned, ex);
            owned?.Dispose();
            throw;
        }
        finally
        {
            request.Release();
        }

        UsageDetails? usage = null;
        bool ended = false;
        try
        {
            if (serving.First is not { } first)
            {
                // The serving deployment's stream ended without an update.
                ended = true;
                EndedEmpty(runtime, serving, requestedRoute, startedAt, owned);
                yield break;
            }

            yield return first;
            Deployment d = serving.Deployment;
            bool countUsage = d.RateLimits.Any || RouterTelemetry.Tokens.Enabled || RouterTelemetry.Source.HasListeners();
            Usage(first, countUsage, ref usage);
            IAsyncEnumerator<ChatResponseUpdate> updates = serving.Updates;
            while (true)
            {
                bool more;
                try
                {
                    more = await updates.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    ended = true;
                    Broken(runtime, serving, ex);
                    runtime.Observer.RequestEnded(requestedRoute, startedAt, ex);
                    RequestSpan.Failed(owned, ex);
                    throw;
                }

                if (!more)
                {
                    break;
                }

                ChatResponseUpdate update = updates.Current;
                Usage(update, countUsage, ref usage);
                yield return update;
            }

            ended = true;
            if (usage?.OutputTokenCount is long output && d.RateLimits.Any)
            {
                d.RateLimits.UseOutputTokens(runtime.Clock.Now(), output);
            }

            runtime.Observer.StreamEnded(serving.Span, d, serving.Route, usage, error: null);
            runtime.Observer.RequestEnded(requestedRoute, startedAt, null);
            RequestSpan.Served(owned, usage, first.ModelId, null);
        }
        finally
        {
            await CloseAsync(runtime, serving, ended, requestedRoute, startedAt, owned).ConfigureAwait(false);
        }
    }

    /// <summary>Disposes the served stream and ends its spans; a stream the caller left before its end counts as cancelled.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask CloseAsync(RouterRuntime runtime, OpenedStream serving, bool ended, string requestedRoute, long startedAt, Activity? owned)
    {
        try
        {
            await serving.Updates.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            serving.Link.Dispose();
            serving.Timeout?.Dispose();
            if (!ended)
            {
                // Abandoned by the caller (or cancelled) after the first update.
                runtime.Observer.RequestEnded(requestedRoute, startedAt, new OperationCanceledException());
                runtime.Observer.StreamAbandoned(serving.Span, owned);
            }

            serving.Span?.Dispose();
            owned?.Dispose();
        }
    }

    /// <summary>Begins the request's routing; an unknown route ends the request (and its span) before it throws, any other error its span.</summary>
    private static RoutedRequest Begin(RouterRuntime runtime, IEnumerable<ChatMessage> messages, ChatOptions? options, Activity? owned, CancellationToken cancellationToken)
    {
        try
        {
            return RoutedRequest.Begin(runtime, messages, options, streaming: true, cancellationToken);
        }
        catch (LlmRouterException ex)
        {
            runtime.Observer.RequestEnded(runtime.RouteTag(options?.ModelId), RoutingTelemetry.NotTimed, ex);
            RequestSpan.Failed(owned, ex);
            owned?.Dispose();
            throw;
        }
        catch (Exception ex)
        {
            RequestSpan.Failed(owned, ex);
            owned?.Dispose();
            throw;
        }
    }

    private static void EndedEmpty(RouterRuntime runtime, in OpenedStream serving, string requestedRoute, long startedAt, Activity? owned)
    {
        runtime.Observer.RequestEnded(requestedRoute, startedAt, null);
        runtime.Observer.StreamEnded(serving.Span, serving.Deployment, serving.Route, usage: null, error: null);
        RequestSpan.Served(owned, null, null, null);
    }

    /// <summary>The serving attempt: its success recorded, the report on its first update; its span lasts as long as its stream.</summary>
    public static OpenedStream Opened(
        RoutedRequest request, in Pick pick, long start, IAsyncEnumerator<ChatResponseUpdate> updates, bool any, CancellationTokenSource? timeout, CancellationTokenRegistration link)
    {
        Activity? servingSpan = request.Runtime.Observer.StreamServing(request);
        RoutingReport report = request.Succeeded(pick, start, usage: null);
        ChatResponseUpdate? first = null;
        if (any)
        {
            first = updates.Current;
            (first.AdditionalProperties ??= new())[RoutingChatOptionsExtensions.ReportKey] = report;
        }

        return new OpenedStream(pick.Deployment, request.CurrentRouteName, report, updates, first, timeout, link, servingSpan);
    }

    public static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<ChatResponseUpdate>? updates)
    {
        if (updates is null)
        {
            return;
        }

        try
        {
            await updates.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The attempt already failed; a failing dispose must not hide that error.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Attempts one deployment after another until one sends its first update (or ends empty).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<OpenedStream> OpenAsync(RoutedRequest request, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        while (request.TryPick(out Pick pick, out long start))
        {
            Deployment d = pick.Deployment;
            CancellationTokenSource? timeout = null;
            CancellationTokenRegistration link = default;
            if (d.TimeToFirstTokenTimeout is TimeSpan t)
            {
                timeout = new CancellationTokenSource(t, request.Runtime.Time);
                link = cancellationToken.UnsafeRegister(ResponseRunner.CancelSource, timeout);
            }

            IAsyncEnumerator<ChatResponseUpdate>? updates = null;
            Exception? error = null;
            bool any = false;
            try
            {
                CancellationToken token = timeout?.Token ?? cancellationToken;
                request.StartAttemptSpan(pick);
                updates = d.Client.GetStreamingResponseAsync(messages, request.OptionsFor(d), token).GetAsyncEnumerator(token);
                any = await updates.MoveNextAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Classified below; rethrown unchanged when it does not deserve failover.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = ex;
            }

            if (error is null)
            {
                // From here on no router timeout applies and no failover happens.
                timeout?.CancelAfter(Timeout.InfiniteTimeSpan);
                return Opened(request, pick, start, updates!, any, timeout, link);
            }

            bool timedOut = timeout is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested;
            await DisposeQuietlyAsync(updates).ConfigureAwait(false);
            link.Dispose();
            timeout?.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                request.Cancelled(pick, start);
                if (error is OperationCanceledException)
                {
                    ExceptionDispatchInfo.Throw(error);
                }

                throw new OperationCanceledException(null, error, cancellationToken);
            }

            if (!request.Failed(pick, error, timedOut ? d.TimeToFirstTokenTimeout : null, start))
            {
                ExceptionDispatchInfo.Throw(error);
            }
        }

        throw request.Exhausted();
    }

    /// <summary>A stream that broke after its first update: a deployment fault counts against its health; the error goes to the caller.</summary>
    private static void Broken(RouterRuntime runtime, in OpenedStream serving, Exception error)
    {
        Deployment d = serving.Deployment;
        long now = runtime.Clock.Now();
        FailureClassification c = runtime.Classifier.Classify(error);
        if (c.Kind is FailureKind.Transient or FailureKind.RateLimited or FailureKind.Misconfigured)
        {
            d.Stats.RecordFailure(null, streaming: true, now);
            HealthTransition transition = d.Health.RecordFailure(now, c.Kind, c.RetryAfter, probe: false);
            runtime.Observer.HealthChanged(d, transition, c);
        }

        runtime.Observer.StreamEnded(serving.Span, d, serving.Route, usage: null, error);
    }

    /// <summary>Adds an update's reported usage to the stream's total, when tokens are counted (telemetry, or a token rate limit).</summary>
    private static void Usage(ChatResponseUpdate update, bool countUsage, ref UsageDetails? usage)
    {
        if (!countUsage)
        {
            return;
        }

        IList<AIContent> contents = update.Contents;
        for (int i = 0; i < contents.Count; i++)
        {
            if (contents[i] is UsageContent u)
            {
                (usage ??= new UsageDetails()).Add(u.Details);
            }
        }
    }
}
