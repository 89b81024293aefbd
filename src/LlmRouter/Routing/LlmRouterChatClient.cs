using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using LlmRouter.Budgets.Internal;
using LlmRouter.Health.Internal;
using LlmRouter.Providers;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using static LlmRouter.Telemetry.RouterTelemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmRouter;

/// <summary>
/// An <see cref="IChatClient"/> that routes each request across provider clients (deployments): it resolves the route
/// named by <see cref="ChatOptions.ModelId"/>, filters its deployments by the request's constraints and their health,
/// ranks them (by measured latency by default), and attempts them in order, failing over on errors that deserve it and
/// then to the route's fallback routes.
/// </summary>
/// <remarks>
/// Build it with <c>services.AddLlmRouter(...)</c>, or directly from <see cref="LlmRouterOptions"/>. Failover is
/// transparent for streams until the first update reaches the caller; after that an error propagates unchanged.
/// Every response carries a <see cref="RoutingReport"/> (<c>response.GetRoutingReport()</c>).
/// </remarks>
public sealed partial class LlmRouterChatClient : IChatClient
{
    private static readonly Action<object?> CancelSource = static state => ((CancellationTokenSource)state!).Cancel();

    private readonly RouteTable _routes;
    private readonly Deployment[] _deployments;
    private readonly List<IDisposable> _ownedClients = [];
    private readonly TimeProvider _time;
    private readonly RouterClock _clock;
    private readonly Random _random;
    private readonly FailureClassifier _classifier;
    private readonly LatencyRankingOptions _latency;
    private readonly HealthOptions _health;
    private readonly int _maxAttempts;
    private readonly int _referenceOutputTokens;
    private readonly ILogger _logger;
    private readonly ChatClientMetadata _metadata;
    private readonly RetryAfterHints? _retryAfterHints;
    private ServiceProvider? _ownedServices;
    private int _disposed;

    /// <summary>Initializes a new router. The options are validated and read once; later changes to them have no effect.</summary>
    /// <param name="options">Deployments, routes, ranking and health options.</param>
    /// <param name="services">Services used to resolve <see cref="DeploymentOptions.ClientKey"/> and <see cref="DeploymentOptions.ClientFactory"/>; optional when every deployment has a <see cref="DeploymentOptions.Client"/>.</param>
    /// <param name="timeProvider">The clock for latency, timeouts, cooldowns and circuits. Default: <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">Where to log failovers, cooldowns and circuit changes. Default: no logging.</param>
    /// <exception cref="OptionsValidationException">The options are invalid; <see cref="OptionsValidationException.Failures"/> names each problem.</exception>
    public LlmRouterChatClient(LlmRouterOptions options, IServiceProvider? services = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> failures = LlmRouterOptionsValidator.Validate(options, services);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(LlmRouterOptions), failures);
        }

        _time = timeProvider ?? TimeProvider.System;
        _clock = new RouterClock(_time);
        _random = options.Random ?? Random.Shared;
        _classifier = options.FailureClassifier;
        _classifier.TimeProvider = _time;
        _latency = Copy(options.LatencyRanking);
        _health = Copy(options.Health);
        _maxAttempts = options.MaxAttempts;
        _referenceOutputTokens = _latency.ReferenceOutputTokens;
        _logger = loggerFactory?.CreateLogger("LlmRouter") ?? NullLogger.Instance;
        _retryAfterHints = services?.GetService<RetryAfterHints>();

        var snapshot = new LlmRouterOptions { DefaultRoute = options.DefaultRoute };
        CopyInto(options.LatencyRanking, snapshot.LatencyRanking);
        CopyInto(options.Health, snapshot.Health);
        // Reports are kept on the container's clock: a router given another TimeProvider cannot compare times with them.
        RateLimitReports? reports = services?.GetService<RateLimitReports>() is { } r && ReferenceEquals(r.Clock.TimeProvider, _time) ? r : null;
        _deployments = new Deployment[options.Deployments.Count];
        for (int i = 0; i < _deployments.Length; i++)
        {
            DeploymentOptions d = options.Deployments[i];
            ReportedRateLimit? reported = d.HttpClientName is { } httpClient ? reports?.For(httpClient) : null;
            _deployments[i] = new Deployment(i, d, ResolveClient(d, services), snapshot, _clock, reported);
        }

        var strategies = new Dictionary<string, RankingStrategy>(StringComparer.OrdinalIgnoreCase)
        {
            [RouterDefaults.LowestLatency] = new LowestLatencyStrategy(),
            [RouterDefaults.Ordered] = new OrderedStrategy(),
            [RouterDefaults.Weighted] = new WeightedStrategy(),
            [RouterDefaults.CostAware] = new CostAwareStrategy(null),
            [RouterDefaults.PriceWeighted] = new PriceWeightedStrategy(),
        };
        foreach (KeyValuePair<string, RankingStrategy> custom in options.Strategies)
        {
            strategies[custom.Key] = custom.Value;
        }

        _routes = RouteTable.Build(options, _deployments, strategies);
        _metadata = new ChatClientMetadata("llmrouter", null, options.DefaultRoute);
    }

    /// <summary>
    /// Builds a router without an application container, for console apps and tests, with the same builder
    /// <c>AddLlmRouter</c> uses (so <c>AddHttpDeployment</c> and the provider packages work too). The router owns the
    /// small service provider it builds and disposes it with itself.
    /// </summary>
    /// <param name="configure">Adds deployments and routes.</param>
    /// <param name="timeProvider">The clock; default <see cref="TimeProvider.System"/>.</param>
    /// <returns>The router.</returns>
    /// <exception cref="OptionsValidationException">The configuration is invalid; every problem is listed.</exception>
    public static LlmRouterChatClient Create(Action<LlmRouterBuilder> configure, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var services = new ServiceCollection();
        if (timeProvider is not null)
        {
            services.AddSingleton(timeProvider);
        }

        services.AddLlmRouter(configure);
        ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();
            router._ownedServices = provider;
            return router;
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    /// <summary>Gets the deployments, in the order they were configured.</summary>
    public IReadOnlyList<Deployment> Deployments => _deployments;

    /// <summary>Gets the names of the routes callers can use in <see cref="ChatOptions.ModelId"/> (explicit and implicit ones).</summary>
    public IReadOnlyList<string> Routes => _routes.Names;

    /// <summary>The name of the route a request with this model id resolves to, or <see langword="null"/> when there is none.</summary>
    internal string? ResolveRouteName(string? modelId) =>
        modelId is null ? _routes.Default.Name : _routes.TryGet(modelId, out CompiledRoute route) ? route.Name : null;

    /// <summary>The routes a request to <paramref name="routeName"/> tries, in order (the route, then its fallbacks), with their members.</summary>
    internal IEnumerable<(string Route, IReadOnlyList<Deployment> Members)> Chain(string? routeName)
    {
        CompiledRoute route = routeName is null ? _routes.Default : _routes.TryGet(routeName, out CompiledRoute r) ? r : _routes.Default;
        foreach (CompiledRoute step in route.Chain)
        {
            yield return (step.Name, step.Members);
        }
    }

    /// <summary>How many attempts of one request to this route may run at once: 1, or 1 + the hedges its hedging allows.</summary>
    internal int MaxConcurrentAttempts(string? routeName)
    {
        CompiledRoute route = routeName is null ? _routes.Default : _routes.TryGet(routeName, out CompiledRoute r) ? r : _routes.Default;
        return route.Hedging is { } hedging ? 1 + hedging.MaxExtraAttempts : 1;
    }

    /// <summary>Every deployment a request to <paramref name="routeName"/> may reach: its members and those of its fallbacks.</summary>
    internal IEnumerable<Deployment> Reachable(string? routeName)
    {
        CompiledRoute route = routeName is null ? _routes.Default : _routes.TryGet(routeName, out CompiledRoute r) ? r : _routes.Default;
        var seen = new HashSet<Deployment>();
        foreach (CompiledRoute step in route.Chain)
        {
            foreach (Deployment d in step.Members)
            {
                if (seen.Add(d))
                {
                    yield return d;
                }
            }
        }
    }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (Source.HasListeners())
        {
            return TracedResponseAsync(messages, options, cancellationToken);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ChatResponse>(cancellationToken);
        }

        messages = Replayable(messages);

        RequestState state;
        try
        {
            Begin(messages, options, streaming: false, out state);
        }
        catch (LlmRouterException ex)
        {
            RequestEnded(RouteTag(options?.ModelId), NotTimed, ex);
            return Task.FromException<ChatResponse>(ex);
        }

        if (!NextPick(ref state, out Pick pick, out long start))
        {
            Exception exhausted = Exhausted(ref state);
            RequestEnded(state.RequestedRoute, state.StartedAt, exhausted);
            state.Dispose();
            return Task.FromException<ChatResponse>(exhausted);
        }

        // Attempts start here, outside any async state machine. When a provider completes synchronously (in-memory
        // clients, caches below the router) the router adds no Task of its own, and a synchronous failure is classified
        // from the faulted task without the throw and catch an await would cost.
        while (true)
        {
            Deployment d = pick.Deployment;
            if (state.Chain[0].Hedging is not null && state.Attempts == 1)
            {
                return HedgedAsync(state, messages, options, pick, start, cancellationToken);
            }

            if (d.AttemptTimeout is not null)
            {
                return RunAsync(state, messages, options, pick, started: null, start, cancellationToken);
            }

            Task<ChatResponse> task;
            try
            {
                task = d.Client.GetResponseAsync(messages, AttemptOptions(d, options, state.Scope.Strip), cancellationToken);
            }
#pragma warning disable CA1031 // Routed through the same classification as an asynchronous failure.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                task = Task.FromException<ChatResponse>(ex);
            }

            if (task.IsCompletedSuccessfully && Filtered(state, task.Result))
            {
                FilteredResponse(ref state, pick, start);
                if (!NextPick(ref state, out pick, out start))
                {
                    // Nothing available on the fallback route: the caller gets the filtered answer as the provider gave it.
                    Attach(task.Result, FilteredReport(ref state));
                    RequestEnded(state.RequestedRoute, state.StartedAt, null);
                    state.Dispose();
                    return task;
                }

                continue;
            }

            if (task.IsCompletedSuccessfully)
            {
                ChatResponse response = task.Result;
                Attach(response, Succeeded(ref state, pick, start, response.Usage));
                RequestEnded(state.RequestedRoute, state.StartedAt, null);
                state.Dispose();
                return task;
            }

            if (!task.IsFaulted || cancellationToken.IsCancellationRequested)
            {
                return RunAsync(state, messages, options, pick, task, start, cancellationToken);
            }

            Exception error = task.Exception!.InnerException!;
            if (!Failed(ref state, pick, error, timedOutAfter: null, start))
            {
                // Not worth failing over: the caller gets the provider's own faulted task, so the original exception.
                RequestEnded(state.RequestedRoute, state.StartedAt, error);
                state.Dispose();
                return task;
            }

            if (!NextPick(ref state, out pick, out start))
            {
                Exception exhausted = Exhausted(ref state);
                RequestEnded(state.RequestedRoute, state.StartedAt, exhausted);
                state.Dispose();
                return Task.FromException<ChatResponse>(exhausted);
            }
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();

        // Spans are current only inside this iterator's own runs, so they never leak to the caller.
        Activity? owned = RequestSpan.ShouldStart(messages) ? RequestSpan.Start(messages, options, streaming: true) : null;
        Activity? span = owned ?? (Source.HasListeners() ? RequestSpan.Find(messages) : null);
        Activity? servingSpan = null;
        messages = Replayable(messages);
        RequestState state;
        try
        {
            Begin(messages, options, streaming: true, out state);
        }
        catch (LlmRouterException ex)
        {
            RequestEnded(RouteTag(options?.ModelId), NotTimed, ex);
            RequestSpan.Failed(owned, ex);
            owned?.Dispose();
            throw;
        }

        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        CancellationTokenSource? timeout = null;
        CancellationTokenRegistration link = default;
        Deployment? serving = null;
        string route = state.RequestedRoute;
        string requestedRoute = state.RequestedRoute;
        span?.SetTag(RouterTelemetry.Tags.Route, requestedRoute);
        long startedAt = state.StartedAt;
        ChatResponseUpdate? first = null;
        bool ended = false;
        try
        {
            // Attempts until one produces its first update (or ends empty): failover is transparent up to here.
            if (state.Chain[0].Hedging is { } hedging)
            {
                // Hedged: attempts race to their first update (see LlmRouterChatClient.Hedging.cs).
                List<StreamAttempt> running = [];
                int hedges = 0;
                try
                {
                    bool picked = NextPick(ref state, out Pick firstPick, out long firstStart);
                    if (picked)
                    {
                        state.Chain[0].CountRequest();
                        running.Add(StartStream(ref state, firstPick, firstStart, messages, options, hedge: false, cancellationToken));
                    }

                    while (running.Count > 0)
                    {
                        TimeSpan? delay = hedges < hedging.MaxExtraAttempts && state.Attempts < state.MaxAttempts
                            ? HedgeDelay(hedging, running[^1].Pick.Deployment, streaming: true)
                            : null;
                        Task finished = await FirstOrHedgeAsync(running.ConvertAll(r => (Task)r.First), delay).ConfigureAwait(false);
                        if (ReferenceEquals(finished, HedgeDue))
                        {
                            if (state.Chain[0].TryTakeHedge(hedging.MaxHedgedShare) && NextPick(ref state, out Pick next, out long nextStart))
                            {
                                hedges++;
                                running.Add(StartStream(ref state, next, nextStart, messages, options, hedge: true, cancellationToken));
                            }
                            else
                            {
                                hedges = hedging.MaxExtraAttempts;
                            }

                            continue;
                        }

                        StreamAttempt done = running.Find(r => ReferenceEquals(r.First, finished))!;
                        running.Remove(done);
                        state.AttemptSpan = done.Span;
                        if (done.First.IsCompletedSuccessfully)
                        {
                            foreach (StreamAttempt loser in running)
                            {
                                SupersedeStream(ref state, loser);
                            }

                            running.Clear();
                            done.Timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                            servingSpan = state.AttemptSpan;
                            state.AttemptSpan = null;
                            servingSpan?.SetTag(RouterTelemetry.Tags.AttemptOutcome, "succeeded");
                            RoutingReport report = Succeeded(ref state, done.Pick, done.Start, usage: null);
                            updates = done.Updates;
                            timeout = done.Timeout;
                            link = done.Link;
                            if (done.First.Result)
                            {
                                first = updates!.Current;
                                (first.AdditionalProperties ??= new())[RoutingChatOptionsExtensions.ReportKey] = report;
                            }

                            if (done.Hedge && Hedges.Enabled)
                            {
                                Hedges.Add(1, new TagList { { RouterTelemetry.Tags.Route, state.RequestedRoute }, { RouterTelemetry.Tags.Deployment, done.Pick.Deployment.Name }, { RouterTelemetry.Tags.Outcome, "won" } });
                            }

                            Routed(span, report);
                            serving = done.Pick.Deployment;
                            route = state.CurrentRouteName;
                            break;
                        }

                        Exception error = done.First.Exception?.InnerException ?? new OperationCanceledException("The attempt was cancelled.", null, cancellationToken);
                        bool timedOut = done.Timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested;
                        await DisposeQuietlyAsync(done.Updates).ConfigureAwait(false);
                        done.Release();
                        if (cancellationToken.IsCancellationRequested)
                        {
                            Cancelled(ref state, done.Pick, done.Start);
                            foreach (StreamAttempt other in running)
                            {
                                state.AttemptSpan = other.Span;
                                other.Abandon();
                                Cancelled(ref state, other.Pick, other.Start);
                            }

                            running.Clear();
                            throw error as OperationCanceledException ?? new OperationCanceledException(null, error, cancellationToken);
                        }

                        if (!Failed(ref state, done.Pick, error, timedOut ? done.Pick.Deployment.TimeToFirstTokenTimeout : null, done.Start))
                        {
                            foreach (StreamAttempt other in running)
                            {
                                SupersedeStream(ref state, other);
                            }

                            running.Clear();
                            ExceptionDispatchInfo.Throw(error);
                        }

                        if (running.Count == 0 && NextPick(ref state, out Pick failover, out long failoverStart))
                        {
                            running.Add(StartStream(ref state, failover, failoverStart, messages, options, hedge: false, cancellationToken));
                        }
                    }
                }
                finally
                {
                    foreach (StreamAttempt r in running)
                    {
                        r.Abandon();
                    }
                }
            }

            while (serving is null && state.Chain[0].Hedging is null && NextPick(ref state, out Pick pick, out long start))
            {
                Deployment d = pick.Deployment;
                if (d.TimeToFirstTokenTimeout is TimeSpan t)
                {
                    timeout = new CancellationTokenSource(t, _time);
                    link = cancellationToken.UnsafeRegister(CancelSource, timeout);
                }

                Exception? error = null;
                bool any = false;
                try
                {
                    CancellationToken token = timeout?.Token ?? cancellationToken;
                    StartAttempt(ref state, pick);
                    updates = d.Client.GetStreamingResponseAsync(messages, AttemptOptions(d, options, state.Scope.Strip), token).GetAsyncEnumerator(token);
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

                    // The serving attempt's span lasts as long as its stream.
                    servingSpan = state.AttemptSpan;
                    state.AttemptSpan = null;
                    servingSpan?.SetTag(RouterTelemetry.Tags.AttemptOutcome, "succeeded");
                    RoutingReport report = Succeeded(ref state, pick, start, usage: null);
                    if (any)
                    {
                        first = updates!.Current;
                        (first.AdditionalProperties ??= new())[RoutingChatOptionsExtensions.ReportKey] = report;
                    }

                    Routed(span, report);
                    serving = d;
                    route = state.CurrentRouteName;
                    break;
                }

                bool timedOut = timeout is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested;
                await DisposeQuietlyAsync(updates).ConfigureAwait(false);
                updates = null;
                link.Dispose();
                timeout?.Dispose();
                timeout = null;
                if (cancellationToken.IsCancellationRequested)
                {
                    Cancelled(ref state, pick, start);
                    if (error is OperationCanceledException)
                    {
                        ExceptionDispatchInfo.Throw(error);
                    }

                    throw new OperationCanceledException(null, error, cancellationToken);
                }

                if (!Failed(ref state, pick, error, timedOut ? d.TimeToFirstTokenTimeout : null, start))
                {
                    ExceptionDispatchInfo.Throw(error);
                }
            }

            if (serving is null)
            {
                throw Exhausted(ref state);
            }
        }
        catch (Exception ex)
        {
            ended = true;
            RequestEnded(requestedRoute, startedAt, ex);
            RequestSpan.Failed(owned, ex);
            owned?.Dispose();
            throw;
        }
        finally
        {
            state.Dispose();
        }

        UsageDetails? usage = null;
        try
        {
            if (first is null)
            {
                // The serving deployment's stream ended without an update.
                ended = true;
                RequestEnded(requestedRoute, startedAt, null);
                StreamEnded(servingSpan, null);
                RequestSpan.Served(owned, null, null, null);
                yield break;
            }

            yield return first;
            bool countUsage = serving!.HasRateLimits || Tokens.Enabled || Source.HasListeners();
            Usage(first, countUsage, ref usage);
            while (true)
            {
                bool more;
                try
                {
                    more = await updates!.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    StreamBroken(serving, route, ex);
                    ended = true;
                    RequestEnded(requestedRoute, startedAt, ex);
                    StreamEnded(servingSpan, ex);
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
            CountTokens(serving, route, usage);
            if (usage?.OutputTokenCount is long output && serving.HasRateLimits)
            {
                serving.UseOutputTokens(_clock.Now(), output);
            }

            RequestEnded(requestedRoute, startedAt, null);
            StreamEnded(servingSpan, null);
            RequestSpan.Served(owned, usage, first.ModelId, null);
        }
        finally
        {
            try
            {
                await updates!.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                link.Dispose();
                timeout?.Dispose();
                if (!ended)
                {
                    // Abandoned by the caller (or cancelled) after the first update.
                    RequestEnded(requestedRoute, startedAt, new OperationCanceledException());
                    servingSpan?.SetTag(RouterTelemetry.Tags.Outcome, "abandoned");
                    owned?.SetTag(RouterTelemetry.Tags.Outcome, "abandoned");
                }

                servingSpan?.Dispose();
                owned?.Dispose();
            }
        }
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

    /// <summary>Ends the span of the attempt that served a stream, when the stream ends.</summary>
    private static void StreamEnded(Activity? servingSpan, Exception? error)
    {
        if (servingSpan is not { IsAllDataRequested: true })
        {
            return;
        }

        servingSpan.SetTag(RouterTelemetry.Tags.Outcome, error is null ? "completed" : "broken");
        if (error is not null)
        {
            servingSpan.SetTag(RouterTelemetry.Tags.ErrorType, error.GetType().FullName);
            servingSpan.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the provider clients the router built from <see cref="DeploymentOptions.ClientFactory"/> (and the service provider <see cref="Create"/> built); instances and DI services stay with their owners.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (IDisposable client in _ownedClients)
        {
            client.Dispose();
        }

        _ownedClients.Clear();
        _ownedServices?.Dispose();
    }

    /// <summary>The attempt loop, continuing from a first attempt that is already picked (and possibly started).</summary>
    private async Task<ChatResponse> RunAsync(
        RequestState state, IEnumerable<ChatMessage> messages, ChatOptions? options, Pick pick, Task<ChatResponse>? started, long start, CancellationToken cancellationToken)
    {
        ChatResponse? filteredAnswer = null;
        int filteredAt = 0;
        try
        {
            do
            {
                Deployment d = pick.Deployment;
                CancellationTokenSource? timeout = null;
                CancellationTokenRegistration link = default;
                try
                {
                    if (started is null)
                    {
                        if (d.AttemptTimeout is TimeSpan t)
                        {
                            timeout = new CancellationTokenSource(t, _time);
                            link = cancellationToken.UnsafeRegister(CancelSource, timeout);
                        }

                        StartAttempt(ref state, pick);
                        started = d.Client.GetResponseAsync(messages, AttemptOptions(d, options, state.Scope.Strip), timeout?.Token ?? cancellationToken);
                    }

                    ChatResponse response = await started.ConfigureAwait(false);
                    if (Filtered(state, response))
                    {
                        FilteredResponse(ref state, pick, start);
                        filteredAnswer = response;
                        filteredAt = state.Attempts;
                        continue;
                    }

                    Attach(response, Succeeded(ref state, pick, start, response.Usage));
                    RequestEnded(state.RequestedRoute, state.StartedAt, null);
                    return response;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    if (!Failed(ref state, pick, ex, timeout is { IsCancellationRequested: true } ? d.AttemptTimeout : null, start))
                    {
                        RequestEnded(state.RequestedRoute, state.StartedAt, ex);
                        throw;
                    }
                }
                catch (Exception ex)
                {
                    Cancelled(ref state, pick, start);
                    OperationCanceledException cancelled = ex as OperationCanceledException ?? new OperationCanceledException(null, ex, cancellationToken);
                    RequestEnded(state.RequestedRoute, state.StartedAt, cancelled);
                    if (ex is OperationCanceledException)
                    {
                        throw;
                    }

                    throw cancelled;
                }
                finally
                {
                    started = null;
                    link.Dispose();
                    timeout?.Dispose();
                }
            }
            while (NextPick(ref state, out pick, out start));

            if (filteredAnswer is not null && state.Attempts == filteredAt)
            {
                // Nothing available on the content-policy fallback route: the filtered answer, as the provider gave it.
                Attach(filteredAnswer, FilteredReport(ref state));
                RequestEnded(state.RequestedRoute, state.StartedAt, null);
                return filteredAnswer;
            }

            Exception exhausted = Exhausted(ref state);
            RequestEnded(state.RequestedRoute, state.StartedAt, exhausted);
            throw exhausted;
        }
        finally
        {
            state.Dispose();
        }
    }

    /// <summary>Resolves the route and fills <paramref name="state"/> in place (it is large: no copy on the hot path).</summary>
    private void Begin(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, out RequestState state)
    {
        CompiledRoute route;
        if (options?.ModelId is not { } name)
        {
            route = _routes.Default;
        }
        else if (!_routes.TryGet(name, out route))
        {
            throw new UnknownRouteException(name, _routes.Names);
        }

        RouteConstraints? constraints = options.GetRouteConstraints();
        state = new RequestState
        {
            Scope = new RequestScope
            {
                Constraints = constraints,
                Strip = constraints is not null || options.GetAffinityKey() is not null,
                Options = options,
                Streaming = streaming,
                Random = _random,
                LatencyOptions = _latency,
            },
            RequestedRoute = route.Name,
            Chain = route.Chain,
            ChainLength = constraints is { DisableFallbacks: true } ? 1 : route.Chain.Length,
            MaxAttempts = constraints?.MaxAttempts is int max and > 0 ? max : _maxAttempts,
            StartedAt = RequestDuration.Enabled ? _clock.Now() : NotTimed,
        };
        if (route.SmallestWindow is int smallest)
        {
            state.Scope.RequiredContext = RequiredContext(messages, options, smallest);
        }

        if (route.ChainHasTokenQuotas)
        {
            state.Scope.PromptTokens = (TokenEstimator.CharCount(messages, options) + 3) / 4;
        }

        if (route.PrefixAffinity is { } affinity)
        {
            state.Scope.PrefixHash = PrefixHash.Of(messages, options, affinity.MinimumPrefixLength);
        }
    }

    /// <summary>
    /// The context a request needs (prompt tokens plus its output cap), or 0 when it surely fits the smallest known window
    /// of its route: a prompt of n UTF-16 chars has at most 3n UTF-8 bytes and so at most 3n tokens, so only a prompt
    /// within a factor of three of the smallest window is counted, exactly, with the o200k tokenizer (a lower count than
    /// most other vendors' tokenizers give: a deployment is skipped only when the prompt surely does not fit).
    /// </summary>
    private static long RequiredContext(IEnumerable<ChatMessage> messages, ChatOptions? options, int smallestWindow)
    {
        long output = Math.Max(options?.MaxOutputTokens ?? 0, 0);
        if ((3 * TokenEstimator.CharCount(messages, options)) + output <= smallestWindow)
        {
            return 0;
        }

        return TokenEstimator.Count(messages) + TokenEstimator.Count(options?.Instructions) + output;
    }

    /// <summary>Picks the next deployment to attempt; <paramref name="now"/> is the timestamp the attempt starts at.</summary>
    private bool NextPick(ref RequestState state, out Pick pick, out long now)
    {
        now = 0;
        while (state.Attempts < state.MaxAttempts)
        {
            now = _clock.Now();
            if (state.SelectionActive)
            {
                if (state.RouteAttempts < state.Chain[state.RouteIndex].MaxAttempts && state.Selection.Next(in state.Scope, now, out pick) is not null)
                {
                    state.Attempts++;
                    state.RouteAttempts++;
                    Picked(ref state, pick);
                    return true;
                }

                state.Selection.Dispose();
                state.SelectionActive = false;
                state.RouteIndex++;
            }

            if (state.RouteIndex >= state.ChainLength)
            {
                if (state.Attempts == 0 && !state.LastResortUsed && _health.AttemptWhenAllUnavailable && state.Unavailable.LeastRecentlyFailed is { } lastResort)
                {
                    state.LastResortUsed = true;
                    state.RouteIndex = 0;
                    Log.LastResortAttempt(_logger, state.RequestedRoute, lastResort.Name);
                    pick = new Pick(lastResort, CircuitProbe: false, ColdProbe: false);
                    lastResort.UseQuota(now, state.Scope.PromptTokens);
                    state.Attempts++;
                    Picked(ref state, pick);
                    return true;
                }

                break;
            }

            if (state.RouteIndex > 0 && state.Scope.Constraints is { } c && !c.AllowsRoute(state.Chain[state.RouteIndex].Name))
            {
                // A fallback route the request's scope policies exclude.
                state.RouteIndex++;
                continue;
            }

            Selection.Initialize(ref state.Selection, state.Chain[state.RouteIndex], in state.Scope, now, ref state.Unavailable);
            state.Matching += state.Selection.Matching;
            state.OverBudget += state.Selection.OverBudget;
            state.TooSmall += state.Selection.TooSmall;
            state.SelectionActive = true;
            state.RouteAttempts = 0;
        }

        pick = default;
        return false;
    }

    /// <summary>A failover sends the messages again: a one-shot sequence is materialised once; lists pass through.</summary>
    private static IEnumerable<ChatMessage> Replayable(IEnumerable<ChatMessage> messages) =>
        messages is ChatMessage[] or List<ChatMessage> or ICollection<ChatMessage> or IReadOnlyCollection<ChatMessage> ? messages : [.. messages];

    private static void Attach(ChatResponse response, RoutingReport report) =>
        (response.AdditionalProperties ??= new())[RoutingChatOptionsExtensions.ReportKey] = report;

    private RoutingReport Succeeded(ref RequestState state, in Pick pick, long start, UsageDetails? usage)
    {
        Deployment d = pick.Deployment;
        long end = _clock.Now();
        TimeSpan elapsed = _clock.Elapsed(start, end);
        double seconds = elapsed.TotalSeconds;
        if (usage?.OutputTokenCount is long tokens && tokens > _referenceOutputTokens)
        {
            seconds = seconds * _referenceOutputTokens / tokens;
        }

        HealthTransition transition = d.RecordSuccess(seconds, state.Scope.Streaming, end, pick.CircuitProbe, elapsed.TotalSeconds);
        if (usage?.OutputTokenCount is long output && d.HasRateLimits)
        {
            d.UseOutputTokens(end, output);
        }

        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        if (transition == HealthTransition.CircuitClosed)
        {
            Log.CircuitClosed(_logger, d.Name);
            Transitioned(d, transition, default);
        }

        string route = state.CurrentRouteName;
        AttemptEnded(ref state, d, route, AttemptOutcome.Succeeded, elapsed, error: null, failure: null);
        CountTokens(d, route, usage);
        return new RoutingReport(state.RequestedRoute, d.Name, state.CurrentRouteName, elapsed, state.Log.ToArrayOrNull());
    }

    /// <summary>Records a failed attempt; returns whether to fail over (false: rethrow the error unchanged).</summary>
    private bool Failed(ref RequestState state, in Pick pick, Exception error, TimeSpan? timedOutAfter, long start)
    {
        Deployment d = pick.Deployment;
        long end = _clock.Now();
        TimeSpan elapsed = _clock.Elapsed(start, end);
        FailureClassification c = timedOutAfter is not null ? new(FailureKind.Transient) : _classifier.Classify(error);
        if (timedOutAfter is null && c.RetryAfter is null && c.Kind is FailureKind.RateLimited or FailureKind.Transient && d.HttpClientName is { } httpClient && _retryAfterHints is not null)
        {
            c = c with { RetryAfter = _retryAfterHints.Remaining(httpClient, _time.GetUtcNow()) };
        }

        string route = state.CurrentRouteName;
        state.Log.Add(new AttemptRecord(d.Name, route, timedOutAfter is null ? AttemptOutcome.Failed : AttemptOutcome.TimedOut, elapsed, c.Kind, c.StatusCode, error.GetType().Name));
        state.Scope.MarkTried(d);
        state.LastError = timedOutAfter is TimeSpan limit
            ? new TimeoutException($"The attempt on deployment '{d.Name}' did not {(state.Scope.Streaming ? "produce its first update" : "complete")} within {limit}.", error)
            : error;

        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        AttemptOutcome outcome = timedOutAfter is null ? AttemptOutcome.Failed : AttemptOutcome.TimedOut;
        AttemptEnded(ref state, d, route, outcome, elapsed, error, c);
        switch (c.Kind)
        {
            case FailureKind.InvalidRequest:
                ReleaseProbe(d, pick, end);
                Log.AttemptFailedStop(_logger, state.Attempts, d.Name, route, c.Kind, c.StatusCode, error.GetType().Name);
                return false;

            case FailureKind.ContentFiltered:
                // Not the deployment's fault: no health penalty. Over to the content-policy fallback route, once.
                ReleaseProbe(d, pick, end);
                if (ToContentPolicyFallback(ref state))
                {
                    Log.AttemptFailedOver(_logger, state.Attempts, d.Name, route, c.Kind, c.StatusCode, error.GetType().Name);
                    return true;
                }

                Log.AttemptFailedStop(_logger, state.Attempts, d.Name, route, c.Kind, c.StatusCode, error.GetType().Name);
                return false;

            case FailureKind.ContextWindowExceeded:
                ReleaseProbe(d, pick, end);
                state.Scope.MinContextWindow = Math.Max(state.Scope.MinContextWindow, (d.ContextWindow ?? 0) + 1L);
                Log.AttemptFailedOver(_logger, state.Attempts, d.Name, route, c.Kind, c.StatusCode, error.GetType().Name);
                return true;

            default:
                d.Stats.RecordFailure(timedOutAfter is null ? null : elapsed.TotalSeconds, state.Scope.Streaming, end);
                HealthTransition transition = d.Health.RecordFailure(end, c.Kind, c.RetryAfter, pick.CircuitProbe);
                if (timedOutAfter is TimeSpan after)
                {
                    Log.AttemptTimedOut(_logger, state.Attempts, d.Name, route, after);
                }
                else
                {
                    Log.AttemptFailedOver(_logger, state.Attempts, d.Name, route, c.Kind, c.StatusCode, error.GetType().Name);
                }

                LogTransition(d, transition, c);
                return true;
        }
    }

    private void Cancelled(ref RequestState state, in Pick pick, long start)
    {
        Deployment d = pick.Deployment;
        long end = _clock.Now();
        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        ReleaseProbe(d, pick, end);
        TimeSpan elapsed = _clock.Elapsed(start, end);
        state.Log.Add(new AttemptRecord(d.Name, state.CurrentRouteName, AttemptOutcome.Cancelled, elapsed));
        AttemptEnded(ref state, d, state.CurrentRouteName, AttemptOutcome.Cancelled, elapsed, error: null, failure: null);
    }

    /// <summary>Whether a response that finished with a content filter should go to the route's content-policy fallback.</summary>
    private static bool Filtered(in RequestState state, ChatResponse response) =>
        state.RouteIndex < state.ChainLength && state.Chain[state.RouteIndex].ContentPolicyFallback is not null
        && !state.ContentFallbackUsed && response.FinishReason == ChatFinishReason.ContentFilter;

    /// <summary>Records a response refused by the provider's content filter as a failed attempt and moves to the content-policy fallback.</summary>
    private void FilteredResponse(ref RequestState state, in Pick pick, long start)
    {
        Deployment d = pick.Deployment;
        long end = _clock.Now();
        TimeSpan elapsed = _clock.Elapsed(start, end);
        string route = state.CurrentRouteName;
        var c = new FailureClassification(FailureKind.ContentFiltered);
        state.Log.Add(new AttemptRecord(d.Name, route, AttemptOutcome.Failed, elapsed, c.Kind, null, nameof(ChatFinishReason.ContentFilter)));
        state.Scope.MarkTried(d);
        if (pick.ColdProbe)
        {
            d.Stats.ReleaseColdProbe();
        }

        ReleaseProbe(d, pick, end);
        AttemptEnded(ref state, d, route, AttemptOutcome.Failed, elapsed, error: null, c);
        Log.AttemptFailedOver(_logger, state.Attempts, d.Name, route, c.Kind, null, nameof(ChatFinishReason.ContentFilter));
        ToContentPolicyFallback(ref state);
    }

    /// <summary>The report of a filtered answer returned because its fallback route had nothing to offer: served by the filtered attempt.</summary>
    private static RoutingReport FilteredReport(ref RequestState state)
    {
        AttemptRecord[] all = state.Log.ToArrayOrNull()!;
        AttemptRecord filtered = all[^1];
        return new RoutingReport(state.RequestedRoute, filtered.Deployment, filtered.Route, filtered.Duration, all.Length > 1 ? all[..^1] : null);
    }

    /// <summary>Switches the request to its current route's content-policy fallback route (once per request).</summary>
    private static bool ToContentPolicyFallback(ref RequestState state)
    {
        if (state.ContentFallbackUsed || state.RouteIndex >= state.ChainLength || state.Chain[state.RouteIndex].ContentPolicyFallback is not { } fallback)
        {
            return false;
        }

        state.ContentFallbackUsed = true;
        if (state.SelectionActive)
        {
            state.Selection.Dispose();
            state.SelectionActive = false;
        }

        state.Chain = fallback.Chain;
        state.ChainLength = state.Scope.Constraints is { DisableFallbacks: true } ? 1 : fallback.Chain.Length;
        state.RouteIndex = 0;
        state.RouteAttempts = 0;
        return true;
    }

    private void StreamBroken(Deployment d, string route, Exception error)
    {
        long now = _clock.Now();
        FailureClassification c = _classifier.Classify(error);
        if (c.Kind is FailureKind.Transient or FailureKind.RateLimited or FailureKind.Misconfigured)
        {
            d.Stats.RecordFailure(null, streaming: true, now);
            LogTransition(d, d.Health.RecordFailure(now, c.Kind, c.RetryAfter, probe: false), c);
        }

        Log.StreamFailedAfterFirstUpdate(_logger, d.Name, route, error.GetType().Name);
    }

    private Exception Exhausted(ref RequestState state)
    {
        if (state.Attempts == 0)
        {
            if (state.Matching == 0 && state.TooSmall > 0 && state.OverBudget == 0)
            {
                return new NoAvailableDeploymentException(state.RequestedRoute, NoAvailableDeploymentReason.ContextWindowTooSmall, null, []);
            }

            if (state.Matching == 0 && state.OverBudget > 0)
            {
                return new NoAvailableDeploymentException(state.RequestedRoute, NoAvailableDeploymentReason.DeploymentBudgetsExhausted, null, []);
            }

            if (state.Matching == 0)
            {
                return new NoAvailableDeploymentException(state.RequestedRoute, NoAvailableDeploymentReason.NoneMatchConstraints, null, []);
            }

            long at = Math.Max(_clock.Now(), state.Unavailable.EarliestAvailable);
            return new NoAvailableDeploymentException(
                state.RequestedRoute, NoAvailableDeploymentReason.AllUnavailable, _clock.ToUtc(at), state.Unavailable.Names);
        }

        return new AllAttemptsFailedException(state.RequestedRoute, state.Log.ToArrayOrNull() ?? [], state.LastError ?? new InvalidOperationException("No attempt error was recorded."));
    }

    private static void ReleaseProbe(Deployment d, in Pick pick, long now)
    {
        if (pick.CircuitProbe)
        {
            d.Health.ReleaseProbe(now);
        }
    }

    private void LogTransition(Deployment d, HealthTransition transition, in FailureClassification c)
    {
        Transitioned(d, transition, c.Kind);
        switch (transition)
        {
            case HealthTransition.CircuitOpened:
                Log.CircuitOpened(_logger, d.Name, d.Health.ConsecutiveFailures, _health.BreakDuration);
                break;
            case HealthTransition.CooledDown when d.CooldownUntil is DateTimeOffset until:
                Log.CooledDown(_logger, d.Name, until, c.Kind, c.StatusCode);
                break;
        }
    }

    /// <summary>The options sent to a deployment: its own model id instead of the route name, without router-only properties.</summary>
    private static ChatOptions? AttemptOptions(Deployment d, ChatOptions? options, bool strip)
    {
        string? model = d.ModelId;
        if (options is null)
        {
            return model is null ? null : new ChatOptions { ModelId = model };
        }

        if (!strip && string.Equals(options.ModelId, model, StringComparison.Ordinal))
        {
            return options;
        }

        ChatOptions clone = options.Clone();
        clone.ModelId = model;
        if (strip && clone.AdditionalProperties is { } props)
        {
            props.Remove(RoutingChatOptionsExtensions.ConstraintsKey);
            props.Remove(RoutingChatOptionsExtensions.AffinityKey);
            if (props.Count == 0)
            {
                clone.AdditionalProperties = null;
            }
        }

        return clone;
    }

    private IChatClient ResolveClient(DeploymentOptions d, IServiceProvider? services)
    {
        if (d.Client is { } client)
        {
            return client;
        }

        if (d.ClientFactory is { } factory)
        {
            IChatClient built = factory(services!) ?? throw new InvalidOperationException($"The ClientFactory of deployment '{d.Name}' returned null.");
            _ownedClients.Add(built);
            return built;
        }

        return services!.GetRequiredKeyedService<IChatClient>(d.ClientKey);
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<ChatResponseUpdate>? updates)
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

    private static LatencyRankingOptions Copy(LatencyRankingOptions o)
    {
        var copy = new LatencyRankingOptions();
        CopyInto(o, copy);
        return copy;
    }

    private static HealthOptions Copy(HealthOptions o)
    {
        var copy = new HealthOptions();
        CopyInto(o, copy);
        return copy;
    }

    private static void CopyInto(LatencyRankingOptions from, LatencyRankingOptions to)
    {
        to.HalfLife = from.HalfLife;
        to.StaleAfter = from.StaleAfter;
        to.MinimumSamples = from.MinimumSamples;
        to.ExplorationRate = from.ExplorationRate;
        to.LatencyBuffer = from.LatencyBuffer;
        to.ReferenceOutputTokens = from.ReferenceOutputTokens;
        to.MaxConcurrentColdProbes = from.MaxConcurrentColdProbes;
    }

    private static void CopyInto(HealthOptions from, HealthOptions to)
    {
        to.RateLimitCooldown = from.RateLimitCooldown;
        to.MisconfiguredCooldown = from.MisconfiguredCooldown;
        to.MaxCooldown = from.MaxCooldown;
        to.ConsecutiveFailureThreshold = from.ConsecutiveFailureThreshold;
        to.FailureRatioThreshold = from.FailureRatioThreshold;
        to.MinimumThroughput = from.MinimumThroughput;
        to.SamplingDuration = from.SamplingDuration;
        to.BreakDuration = from.BreakDuration;
        to.ProbesToClose = from.ProbesToClose;
        to.AttemptWhenAllUnavailable = from.AttemptWhenAllUnavailable;
    }
}
