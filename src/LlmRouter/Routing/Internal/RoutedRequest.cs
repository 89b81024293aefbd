using System.Diagnostics;
using LlmRouter.Internal;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// One request's routing: its route chain, the deployments picked for it, the outcome of each attempt and the end of the
/// request. The runners (<see cref="ResponseRunner"/>, <see cref="StreamRunner"/>, <see cref="HedgedRequest"/>) drive
/// it; each outcome is recorded here, once (health, latency statistics, probe slots, the attempt log, the observer).
/// </summary>
/// <remarks>
/// Pooled per thread: <see cref="Begin"/> rents one and <see cref="Release"/> returns it when the request's routing is
/// over (for a stream, once its serving deployment is known). Nothing may use it after <see cref="Release"/>.
/// </remarks>
internal sealed partial class RoutedRequest
{
    [ThreadStatic]
    private static RoutedRequest? _cached;

    private RouterRuntime _runtime = null!;
    private CompiledRoute[] _chain = [];
    private int _chainLength;
    private int _routeIndex;
    private int _routeAttempts;
    private int _matching;
    private int _overBudget;
    private int _tooSmall;
    private bool _contentFallbackUsed;
    private bool _selectionActive;
    private bool _lastResortUsed;
    private Selection _selection;
    private UnavailableTracker _unavailable;
    private AttemptLog _log;
    private Exception? _lastError;
    private ChatResponse? _filteredAnswer;
    private int _filteredAt;

    /// <summary>Per-request facts every selection reads (constraints, streaming, estimates, deployments tried).</summary>
    public RequestScope Scope;

    /// <summary>The span of the attempt running now, when traced; the observer ends it with the attempt's outcome.</summary>
    public Activity? AttemptSpan;

    /// <summary>The name of the route the request asked for (resolved: the default route's name for no model id).</summary>
    public string RequestedRoute { get; private set; } = string.Empty;

    /// <summary>When the request started, on the router's clock, if its duration is recorded (else <see cref="RoutingTelemetry.NotTimed"/>).</summary>
    public long StartedAt { get; private set; }

    /// <summary>Attempts started so far.</summary>
    public int Attempts { get; private set; }

    /// <summary>The most attempts this request may make.</summary>
    public int MaxAttempts { get; private set; }

    /// <summary>The requested route's hedging, if any (hedging applies to the first route of the chain).</summary>
    public HedgingOptions? Hedging => _chain[0].Hedging;

    /// <summary>The route the request asked for (or the content-policy fallback it moved to): the first of its chain, whose hedging applies.</summary>
    public CompiledRoute FirstRoute => _chain[0];

    public string CurrentRouteName => _routeIndex < _chainLength ? _chain[_routeIndex].Name : RequestedRoute;

    /// <summary>The failed attempts so far (the latest last).</summary>
    public AttemptRecord? LastFailure => _log.Last;

    public RouterRuntime Runtime => _runtime;

    /// <summary>
    /// Resolves the route and starts the request's routing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The router was disposed.</exception>
    /// <exception cref="ArgumentException">A message is <see langword="null"/>.</exception>
    /// <exception cref="UnknownRouteException">No route has the requested name.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while the prompt was counted.</exception>
    public static RoutedRequest Begin(RouterRuntime runtime, IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(runtime.IsDisposed, typeof(LlmRouterChatClient));
        MessageChecks.ThrowIfAnyNull(messages);
        CompiledRoute route;
        if (options?.ModelId is not { } name)
        {
            route = runtime.Routes.Default;
        }
        else if (!runtime.Routes.TryGet(name, out route))
        {
            throw new UnknownRouteException(name, runtime.Routes.Names);
        }

        runtime.Traffic.Add();
        RoutedRequest request = _cached ?? new RoutedRequest();
        _cached = null;
        try
        {
            request.Start(runtime, route, messages, options, streaming, cancellationToken);
        }
        catch
        {
            request.Release();
            throw;
        }

        return request;
    }

    private void Start(RouterRuntime runtime, CompiledRoute route, IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        RouteConstraints? constraints = options.GetRouteConstraints();
        _runtime = runtime;
        // Field by field: Scope was cleared by Release, and a struct copy into this (long-lived) object costs a bulk move.
        Scope.Constraints = constraints;
        Scope.Strip = constraints is not null || options.GetAffinityKey() is not null;
        Scope.Options = options;
        Scope.Streaming = streaming;
        Scope.Random = runtime.Random;
        Scope.LatencyOptions = runtime.Settings.Latency;
        Scope.Observer = runtime.Observer;
        RequestedRoute = route.Name;
        _chain = route.Chain;
        _chainLength = constraints is { DisableFallbacks: true } ? 1 : route.Chain.Length;
        MaxAttempts = constraints?.MaxAttempts is int max and > 0 ? max : runtime.Settings.MaxAttempts;
        StartedAt = Telemetry.RouterTelemetry.RequestDuration.Enabled ? runtime.Clock.Now() : RoutingTelemetry.NotTimed;
        if (route.SmallestWindow is int smallest)
        {
            Scope.RequiredContext = RequiredContext(messages, options, smallest, route.LargestWindow!.Value, cancellationToken);
        }

        if (route.ChainHasTokenQuotas)
        {
            Scope.PromptTokens = (TokenEstimator.CharCount(messages, options) + 3) / 4;
        }

        if (route.PrefixAffinity is { } affinity)
        {
            Scope.PrefixHash = PrefixHash.Of(messages, options, affinity.MinimumPrefixLength);
        }
    }

    /// <summary>A failover sends the messages again: a one-shot sequence is materialised once; lists pass through.</summary>
    public static IEnumerable<ChatMessage> Replayable(IEnumerable<ChatMessage> messages) =>
        messages is ChatMessage[] or List<ChatMessage> or ICollection<ChatMessage> or IReadOnlyCollection<ChatMessage> ? messages : [.. messages];

    /// <summary>Ends the request's routing and returns this object to the thread's pool; the caller must not use it afterwards.</summary>
    public void Release()
    {
        if (_selectionActive)
        {
            _selection.Dispose();
            _selectionActive = false;
        }

        _runtime = null!;
        _chain = [];
        _routeIndex = _routeAttempts = _matching = _overBudget = _tooSmall = _filteredAt = 0;
        Attempts = 0;
        _contentFallbackUsed = _lastResortUsed = false;
        _unavailable = default;
        _log = default;
        _lastError = null;
        _filteredAnswer = null;
        Scope = default;
        AttemptSpan = null;
        _cached = this;
    }

    /// <summary>Reports the end of the request (served, failed or cancelled) to the observer.</summary>
    public void End(Exception? error) => _runtime.Observer.RequestEnded(RequestedRoute, StartedAt, error);

    /// <summary>The options sent to a deployment: its own model id instead of the route name, without router-only properties.</summary>
    public ChatOptions? OptionsFor(Deployment d)
    {
        ChatOptions? options = Scope.Options;
        string? model = d.ModelId;
        if (options is null)
        {
            return model is null ? null : new ChatOptions { ModelId = model };
        }

        if (!Scope.Strip && string.Equals(options.ModelId, model, StringComparison.Ordinal))
        {
            return options;
        }

        ChatOptions clone = options.Clone();
        clone.ModelId = model;
        if (Scope.Strip && clone.AdditionalProperties is { } props)
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

    /// <summary>Starts the current attempt's span under the current (request) span; call from an async method only.</summary>
    public Activity? StartAttemptSpan(in Pick pick) => AttemptSpan = _runtime.Observer.AttemptStarting(this, pick);

    /// <summary>Picks the next deployment to attempt; <paramref name="now"/> is the timestamp the attempt starts at.</summary>
    public bool TryPick(out Pick pick, out long now)
    {
        now = 0;
        while (Attempts < MaxAttempts)
        {
            now = _runtime.Clock.Now();
            if (_selectionActive)
            {
                if (_routeAttempts < _chain[_routeIndex].MaxAttempts && _selection.Next(in Scope, now, out pick) is not null)
                {
                    Attempts++;
                    _routeAttempts++;
                    Picked(pick);
                    return true;
                }

                _selection.Dispose();
                _selectionActive = false;
                _routeIndex++;
            }

            if (_routeIndex >= _chainLength)
            {
                if (TryLastResort(now, out pick))
                {
                    return true;
                }

                break;
            }

            if (_routeIndex > 0 && Scope.Constraints is { } c && !c.AllowsRoute(_chain[_routeIndex].Name))
            {
                // A fallback route the request's scope policies exclude.
                _routeIndex++;
                continue;
            }

            Selection.Initialize(ref _selection, _chain[_routeIndex], in Scope, now, ref _unavailable);
            _matching += _selection.Matching;
            _overBudget += _selection.OverBudget;
            _tooSmall += _selection.TooSmall;
            _selectionActive = true;
            _routeAttempts = 0;
        }

        pick = default;
        return false;
    }

    /// <summary>With nothing available and nothing attempted, the least recently failed deployment, once (<see cref="HealthOptions.AttemptWhenAllUnavailable"/>).</summary>
    private bool TryLastResort(long now, out Pick pick)
    {
        if (Attempts == 0 && !_lastResortUsed && _runtime.Settings.Health.AttemptWhenAllUnavailable && _unavailable.LeastRecentlyFailed is { } lastResort)
        {
            _lastResortUsed = true;
            _routeIndex = 0;
            _runtime.Observer.LastResort(RequestedRoute, lastResort);
            pick = new Pick(lastResort, CircuitProbe: false, ColdProbe: false);
            lastResort.RateLimits.Use(now, Scope.PromptTokens);
            Attempts++;
            Picked(pick);
            return true;
        }

        pick = default;
        return false;
    }

    private void Picked(in Pick pick)
    {
        if (Attempts > 1 || pick.CircuitProbe)
        {
            _runtime.Observer.Picked(this, pick);
        }
    }

    /// <summary>
    /// The context a request needs (prompt tokens plus its output cap), or 0 when it surely fits the smallest known window
    /// of its route: a prompt of n UTF-16 chars has at most 3n UTF-8 bytes and so at most 3n tokens, so only a prompt
    /// within a factor of three of the smallest window is counted with the o200k tokenizer (a lower count than most other
    /// vendors' tokenizers give: a deployment is skipped only when the prompt surely does not fit). The count stops once
    /// the request passes the largest known window, where the exact figure would change no decision.
    /// </summary>
    private static long RequiredContext(IEnumerable<ChatMessage> messages, ChatOptions? options, int smallestWindow, int largestWindow, CancellationToken cancellationToken)
    {
        long output = Math.Max(options?.MaxOutputTokens ?? 0, 0);
        if ((3 * TokenEstimator.CharCount(messages, options)) + output <= smallestWindow)
        {
            return 0;
        }

        return TokenEstimator.Count(messages, options?.Instructions, largestWindow - output, cancellationToken) + output;
    }
}
