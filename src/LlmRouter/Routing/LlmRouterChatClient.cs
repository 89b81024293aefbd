using System.Diagnostics;
using LlmRouter.Health.Internal;
using LlmRouter.Providers;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
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
public sealed partial class LlmRouterChatClient : IChatClient, IRouterTopology
{
    private readonly RouterRuntime _runtime;
    private readonly List<IDisposable> _ownedClients = [];
    private readonly ChatClientMetadata _metadata;
    private ServiceProvider? _ownedServices;

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

        TimeProvider time = timeProvider ?? TimeProvider.System;
        var clock = new RouterClock(time);
        FailureClassifier classifier = options.FailureClassifier;
        classifier.TimeProvider = time;
        RouterSettings settings = RouterSettings.From(options);

        // Reports are kept on the container's clock: a router given another TimeProvider cannot compare times with them.
        RateLimitReports? reports = services?.GetService<RateLimitReports>() is { } r && ReferenceEquals(r.Clock.TimeProvider, time) ? r : null;
        var traffic = new TrafficCounter();
        var deployments = new Deployment[options.Deployments.Count];
        for (int i = 0; i < deployments.Length; i++)
        {
            DeploymentOptions d = options.Deployments[i];
            ReportedRateLimit? reported = d.HttpClientName is { } httpClient ? reports?.For(httpClient) : null;
            deployments[i] = new Deployment(i, d, ResolveClient(d, services), settings, clock, reported, traffic);
        }

        RouteTable routes = RouteTable.Build(options, deployments, Strategies(options, settings.Latency));
        _runtime = new RouterRuntime(
            routes, deployments, clock, traffic, options.Random ?? Random.Shared, classifier, settings,
            loggerFactory?.CreateLogger("LlmRouter") ?? NullLogger.Instance, services?.GetService<RetryAfterHints>());
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

        RouterRegistration.Add(services, configuration: null, configure);
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
    public IReadOnlyList<Deployment> Deployments => _runtime.Deployments;

    /// <summary>Gets the names of the routes callers can use in <see cref="ChatOptions.ModelId"/> (explicit and implicit ones).</summary>
    public IReadOnlyList<string> Routes => _runtime.Routes.Names;

    /// <inheritdoc />
    string? IRouterTopology.ResolveRouteName(string? modelId) => _runtime.Resolve(modelId)?.Name;

    /// <inheritdoc />
    IEnumerable<(string Route, IReadOnlyList<Deployment> Members)> IRouterTopology.Chain(string? routeName)
    {
        foreach (CompiledRoute step in RouteOrDefault(routeName).Chain)
        {
            yield return (step.Name, step.Members);
        }
    }

    /// <inheritdoc />
    int IRouterTopology.MaxConcurrentAttempts(string? routeName) =>
        RouteOrDefault(routeName).Hedging is { } hedging ? 1 + hedging.MaxExtraAttempts : 1;

    /// <inheritdoc />
    IEnumerable<Deployment> IRouterTopology.Reachable(string? routeName)
    {
        var seen = new HashSet<Deployment>();
        foreach (CompiledRoute step in RouteOrDefault(routeName).Chain)
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
    string IRouterTopology.RouteTag(string? modelId) => _runtime.RouteTag(modelId);

    /// <inheritdoc />
    void IRouterTopology.HoldOut(Deployment deployment, DateTimeOffset until)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (!ReferenceEquals(_runtime.FindDeployment(deployment.Name), deployment))
        {
            throw new ArgumentException($"Deployment '{deployment.Name}' does not belong to this router.", nameof(deployment));
        }

        deployment.Hold.HoldUntil(until);
    }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_runtime.IsDisposed, this);
        if (RouterTelemetry.Source.HasListeners())
        {
            return TracedResponseAsync(messages, options, cancellationToken);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ChatResponse>(cancellationToken);
        }

        messages = RoutedRequest.Replayable(messages);
        RoutedRequest request;
        try
        {
            request = RoutedRequest.Begin(_runtime, messages, options, streaming: false, cancellationToken);
        }
        catch (LlmRouterException ex)
        {
            _runtime.Observer.RequestEnded(_runtime.RouteTag(options?.ModelId), RoutingTelemetry.NotTimed, ex);
            return Task.FromException<ChatResponse>(ex);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ChatResponse>(cancellationToken);
        }

        return ResponseRunner.Run(request, messages, cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_runtime.IsDisposed, this);
        return StreamRunner.RunAsync(_runtime, messages, options, cancellationToken);
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

    /// <summary>
    /// Disposes the provider clients the router built from <see cref="DeploymentOptions.ClientFactory"/> (and the service
    /// provider <see cref="Create"/> built); instances and DI services stay with their owners. Requests made afterwards
    /// throw <see cref="ObjectDisposedException"/>; an attempt the disposal cuts off ends its request with its own error
    /// and charges no deployment's health.
    /// </summary>
    public void Dispose()
    {
        if (!_runtime.MarkDisposed())
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

    /// <summary>
    /// A non-streaming request while someone listens to the activity source: the attempt loop runs in an async method
    /// (never on the synchronous fast path), so request and attempt spans can be current without leaking to the caller.
    /// </summary>
    private async Task<ChatResponse> TracedResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        Activity? owned = RequestSpan.ShouldStart(messages) ? RequestSpan.Start(messages, options, streaming: false) : null;
        Activity? span = owned ?? RequestSpan.Find(messages);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            IEnumerable<ChatMessage> replayable = RoutedRequest.Replayable(messages);
            RoutedRequest request;
            try
            {
                request = RoutedRequest.Begin(_runtime, replayable, options, streaming: false, cancellationToken);
            }
            catch (LlmRouterException ex)
            {
                _runtime.Observer.RequestEnded(_runtime.RouteTag(options?.ModelId), RoutingTelemetry.NotTimed, ex);
                throw;
            }

            span?.SetTag(RouterTelemetry.Tags.Route, request.RequestedRoute);
            if (!request.TryPick(out Pick pick, out long start))
            {
                Exception? exhausted = request.Finish(out _);
                request.Release();
                throw exhausted!;
            }

            ChatResponse response = await (request.Hedging is not null
                ? HedgedRequest.RespondAsync(request, replayable, pick, start, cancellationToken)
                : ResponseRunner.RunAsync(request, replayable, pick, started: null, start, cancellationToken)).ConfigureAwait(false);
            _runtime.Observer.Routed(span, response.GetRoutingReport());
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

    private static Dictionary<string, RankingStrategy> Strategies(LlmRouterOptions options, LatencyRankingOptions latency)
    {
        var strategies = new Dictionary<string, RankingStrategy>(StringComparer.OrdinalIgnoreCase)
        {
            [RouterDefaults.LowestLatency] = new LowestLatencyStrategy(latency),
            [RouterDefaults.Ordered] = new OrderedStrategy(),
            [RouterDefaults.Weighted] = new WeightedStrategy(),
            [RouterDefaults.CostAware] = new CostAwareStrategy(null),
            [RouterDefaults.PriceWeighted] = new PriceWeightedStrategy(),
        };
        foreach (KeyValuePair<string, RankingStrategy> custom in options.Strategies)
        {
            strategies[custom.Key] = custom.Value;
        }

        return strategies;
    }

    private CompiledRoute RouteOrDefault(string? routeName) => _runtime.Resolve(routeName) ?? _runtime.Routes.Default;

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
}
