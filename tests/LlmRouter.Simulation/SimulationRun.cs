using System.Diagnostics;
using System.Globalization;
using LlmRouter.Providers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Simulation;

/// <summary>
/// One strategy's run: the real <see cref="LlmRouterChatClient"/> over simulated providers, in virtual time
/// (<see cref="SimulationClock"/>, a <see cref="FakeTimeProvider"/>), on one dedicated thread. The loop moves the clock
/// from request arrival to request arrival, stopping at every timer's due time on the way (provider completions, and the
/// router's own attempt timeouts and hedging delays) and never moving more than <see cref="MaxStep"/> at once, so every
/// timer fires at its own virtual time, in order. Every continuation runs inline on the loop thread: provider tasks come
/// from TaskCompletionSources that do not run continuations asynchronously, and the thread has no synchronization
/// context. So a run is exactly reproducible from its seed; the run checks it: work on any other thread stops it
/// (<see cref="NonDeterministicRunException"/>), and so does a provider timer firing off its due time.
/// </summary>
public sealed class SimulationRun
{
    /// <summary>The route every simulated request uses.</summary>
    public const string RouteName = "simulated";

    /// <summary>The largest single move of the clock (timers fire at their due time whatever the step; this bounds it anyway).</summary>
    public static readonly TimeSpan MaxStep = TimeSpan.FromMilliseconds(5);

    /// <summary>How long after the last arrival the loop waits for requests still in flight.</summary>
    public static readonly TimeSpan DrainLimit = TimeSpan.FromMinutes(10);

    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly StrategySpec _strategy;
    private readonly SimRequest[] _requests;
    private readonly RequestRecord[] _records;
    private readonly ProviderTotals[] _totals;
    private readonly DeploymentObservations[] _observations;
    private readonly List<int[]> _attemptsPerSecond = [];
    private readonly Dictionary<ChatMessage, SimRequest> _inFlight = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _providerIndex = new(StringComparer.OrdinalIgnoreCase);
    private readonly ChatOptions _chatOptions = new() { ModelId = RouteName };
    private readonly RateWindow[] _rateWindows;
    private RateLimitReports? _reports;
    private ServiceProvider? _services;
    private int _loopThread;
    private int _threadViolations;
    private string? _firstViolation;
    private int _timingViolations;
    private int _outstanding;
    private TextWriter? _trace;
    private long _tracedAt = -1;

    private SimulationRun(Scenario scenario, StrategySpec strategy, SimRequest[] requests)
    {
        Scenario = scenario;
        _strategy = strategy;
        _requests = requests;
        _records = new RequestRecord[requests.Length];
        int n = scenario.Providers.Count;
        _totals = [.. Enumerable.Range(0, n).Select(_ => new ProviderTotals())];
        _observations = [.. Enumerable.Range(0, n).Select(_ => new DeploymentObservations())];
        _rateWindows = [.. scenario.Providers.Select(p => new RateWindow(p.RequestsPerMinute))];
        for (int i = 0; i < n; i++)
        {
            _providerIndex[scenario.Providers[i].Name] = i;
        }
    }

    public Scenario Scenario { get; }

    /// <summary>Gets the virtual clock every part of the run reads.</summary>
    public SimulationClock Time { get; } = new(Epoch);

    /// <summary>Gets the virtual time since the run started.</summary>
    public TimeSpan Now => Time.GetUtcNow() - Epoch;

    /// <summary>Gets what the harness has observed of each provider's calls (for strategies that model other routers).</summary>
    public IReadOnlyList<DeploymentObservations> Observations => _observations;

    /// <summary>Runs one strategy over the scenario's workload on a dedicated thread and returns its record.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="strategy">The strategy row.</param>
    /// <param name="trace">Where to write the router's view of every deployment each 10 virtual seconds (circuit, failure rate, latency estimate); null: nowhere.</param>
    /// <returns>The run's record.</returns>
    /// <exception cref="NonDeterministicRunException">Work ran off the loop thread (the router continued on another thread).</exception>
    /// <exception cref="InvalidOperationException">A provider answered off its virtual time, a request never completed, or the harness failed.</exception>
    public static RunResult Execute(Scenario scenario, StrategySpec strategy, TextWriter? trace = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(strategy);
        var run = new SimulationRun(scenario, strategy, scenario.GenerateRequests()) { _trace = trace };
        RunResult? result = null;
        Exception? failure = null;

        // A thread of its own: no synchronization context (a test runner's would make continuations hop), and a
        // deep stack so that continuations running inline are never pushed to the thread pool for lack of stack.
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = run.Loop();
                }
#pragma warning disable CA1031 // Rethrown on the caller's thread below.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failure = ex;
                }
            },
            maxStackSize: 64 * 1024 * 1024)
        {
            Name = $"simulation {strategy.Key}",
            IsBackground = true,
        };
        thread.Start();
        thread.Join();
        return failure switch
        {
            null => result!,
            NonDeterministicRunException e => throw new NonDeterministicRunException($"The simulation of '{strategy.Key}' was stopped: {e.Message}", e),
            _ => throw new InvalidOperationException($"The simulation of '{strategy.Key}' failed: {failure.Message}", failure),
        };
    }

    /// <summary>The provider index of a deployment (deployments are named after their providers).</summary>
    public int ProviderOf(Deployment deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        return _providerIndex[deployment.Name];
    }

    /// <summary>
    /// Stops work that runs off the loop thread (its results would depend on thread timing): records where it happened
    /// and throws on that thread; the loop then ends the run with <see cref="NonDeterministicRunException"/>.
    /// </summary>
    internal void CheckThread()
    {
        if (Environment.CurrentManagedThreadId == _loopThread)
        {
            return;
        }

        Interlocked.CompareExchange(ref _firstViolation, new StackTrace().ToString(), null);
        Interlocked.Increment(ref _threadViolations);
        throw new NonDeterministicRunException("Simulation work ran off the simulation thread.");
    }

    private void ThrowIfOffThread()
    {
        if (Volatile.Read(ref _threadViolations) > 0)
        {
            throw new NonDeterministicRunException(
                $"Work ran off the simulation thread, so this run cannot be reproduced (the loop stopped it). Where it first ran:{Environment.NewLine}{Volatile.Read(ref _firstViolation)}");
        }
    }

    /// <summary>Counts timer callbacks that ran at another virtual time than they were due.</summary>
    internal void CheckDue(TimeSpan due)
    {
        if (Now != due)
        {
            _timingViolations++;
        }
    }

    /// <summary>The request a provider call belongs to, recognised by its message.</summary>
    internal SimRequest RequestOf(IEnumerable<ChatMessage> messages)
    {
        ChatMessage first = messages is IList<ChatMessage> list ? list[0] : messages.First();
        return _inFlight.TryGetValue(first, out SimRequest? request)
            ? request
            : throw new InvalidOperationException("A provider call carried messages of no request in flight: the router passed other message objects than the caller's.");
    }

    /// <summary>Admits a call against the provider's rate limit; returns the Retry-After when it is over.</summary>
    internal TimeSpan? Admit(int provider) => _rateWindows[provider].TryAdmit(Now);

    /// <summary>
    /// Gets or sets whether providers report their rate limits in response headers (as OpenAI's and Anthropic's do) and
    /// the router reads them, as it does through <c>AddLlmResilienceHandler</c>. Set by a strategy row before the router is built.
    /// </summary>
    public bool ProvidersReportRateLimits { get; set; }

    /// <summary>The provider's rate-limit bucket as its headers would report it after the last admission, or null without a limit.</summary>
    internal RateReport? RateLimitReport(int provider) => _rateWindows[provider].Report();

    /// <summary>Delivers a provider's rate-limit headers to the router, through the transport handler's own parser.</summary>
    internal void DeliverRateLimitHeaders(int provider, RateReport? report)
    {
        if (_reports is null || report is not RateReport r)
        {
            return;
        }

        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK);
        response.Headers.TryAddWithoutValidation("x-ratelimit-limit-requests", r.Limit.ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation("x-ratelimit-remaining-requests", r.Remaining.ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation("x-ratelimit-reset-requests", string.Create(CultureInfo.InvariantCulture, $"{r.ResetAfter.TotalSeconds:0.###}s"));
        ResponseHeadersCaptureHandler.ReadRateLimits(response.Headers, Time.GetUtcNow(), _reports.For(Scenario.Providers[provider].Name));
    }

    internal void AttemptStarted(SimRequest request, int provider)
    {
        ref RequestRecord record = ref _records[request.Id];
        if (record.Attempts++ == 0)
        {
            record.FirstProvider = provider;
        }

        record.AttemptedMask |= 1 << provider;
        _totals[provider].Attempts++;
        _observations[provider].Started();
        int second = (int)Now.TotalSeconds;
        while (_attemptsPerSecond.Count <= second)
        {
            _attemptsPerSecond.Add(new int[_totals.Length]);
        }

        _attemptsPerSecond[second][provider]++;
    }

    internal void AttemptSucceeded(SimRequest request, int provider, TimeSpan start, TimeSpan firstToken, bool streaming)
    {
        ProviderProfile p = Scenario.Providers[provider];
        _totals[provider].Succeeded++;
        _totals[provider].Cost += Cost(p, request.InputTokens, request.OutputTokens);
        DeploymentObservations observed = _observations[provider];
        observed.Ended();
        double seconds = streaming ? (firstToken - start).TotalSeconds : (Now - start).TotalSeconds;
        observed.RecordSuccess(seconds, streaming, Now, PowerOfTwoPeakEwmaStrategy.Decay);
    }

    internal void AttemptFailed(SimRequest request, int provider, SimulatedOutcome outcome)
    {
        ProviderTotals totals = _totals[provider];
        _observations[provider].Ended();
        if (outcome == SimulatedOutcome.RateLimited)
        {
            totals.RateLimited++;
            return;
        }

        totals.Unavailable++;
        totals.Cost += Cost(Scenario.Providers[provider], request.InputTokens, 0);
    }

    internal void AttemptCancelled(SimRequest request, int provider, TimeSpan start)
    {
        ProviderTotals totals = _totals[provider];
        totals.Cancelled++;
        totals.Cost += Cost(Scenario.Providers[provider], request.InputTokens, 0);
        DeploymentObservations observed = _observations[provider];
        observed.Ended();
        observed.RecordResponseTime((Now - start).TotalSeconds, Now, PowerOfTwoPeakEwmaStrategy.Decay);
    }

    internal void AttemptHung(int provider) => _totals[provider].Hung++;

    private static double Cost(ProviderProfile p, int inputTokens, int outputTokens) =>
        ((inputTokens * (double)p.Price.InputPerMillion) + (outputTokens * (double)p.Price.OutputPerMillion)) / 1e6;

    private LlmRouterChatClient BuildRouter()
    {
        var options = new LlmRouterOptions { Random = new Random(Scenario.Seed) };
        var route = new RouteOptions { Name = RouteName };
        for (int i = 0; i < Scenario.Providers.Count; i++)
        {
            ProviderProfile p = Scenario.Providers[i];
            options.Deployments.Add(new DeploymentOptions
            {
                Name = p.Name,
                ModelId = p.Name,
                Client = new SimulatedDeployment(this, i),
                Price = p.Price,
                AttemptTimeout = Scenario.AttemptTimeout,
            });
            route.Deployments.Add(p.Name);
        }

        options.Routes.Add(route);
        options.DefaultRoute = RouteName;
        _strategy.Configure(new StrategySetup(options, route, this));
        if (!ProvidersReportRateLimits)
        {
            return new LlmRouterChatClient(options, services: null, timeProvider: Time);
        }

        // What AddLlmResilienceHandler registers: one report per named HttpClient, linked by DeploymentOptions.HttpClientName.
        _reports = new RateLimitReports(Time);
        foreach (DeploymentOptions d in options.Deployments)
        {
            d.HttpClientName = d.Name;
        }

        _services = new ServiceCollection().AddSingleton(_reports).BuildServiceProvider();
        return new LlmRouterChatClient(options, _services, timeProvider: Time);
    }

    private RunResult Loop()
    {
        _loopThread = Environment.CurrentManagedThreadId;
        ProviderErrors.Verify();
        long started = Stopwatch.GetTimestamp();
        using LlmRouterChatClient router = BuildRouter();
        using ServiceProvider? services = _services;
        var serving = new Task[_requests.Length];
        for (int i = 0; i < _requests.Length; i++)
        {
            SimRequest request = _requests[i];
            AdvanceTo(request.Arrival);
            ThrowIfOffThread();
            Trace(router);
            _records[i] = new RequestRecord { Arrival = request.Arrival, Streaming = request.Streaming, FirstProvider = -1, ServedProvider = -1 };
            _inFlight[request.Messages[0]] = request;
            _outstanding++;
            serving[i] = ServeAsync(router, request);
        }

        TimeSpan drainUntil = Now + DrainLimit;
        while (_outstanding > 0 && Now < drainUntil)
        {
            AdvanceTo(Now + TimeSpan.FromSeconds(1));
            ThrowIfOffThread();
        }

        TimeSpan end = Now;
        ThrowIfOffThread();

        if (_timingViolations > 0)
        {
            throw new InvalidOperationException($"{_timingViolations} provider timers fired at another virtual time than they were due.");
        }

        if (_outstanding > 0 || serving.Any(t => !t.IsCompleted))
        {
            throw new InvalidOperationException($"{_outstanding} requests were still in flight {DrainLimit} after the last arrival.");
        }

        if (serving.FirstOrDefault(t => t.IsFaulted) is { } faulted)
        {
            throw new InvalidOperationException("A request failed with an exception the harness does not expect.", faulted.Exception);
        }

        return new RunResult
        {
            Strategy = _strategy,
            Scenario = Scenario,
            Requests = _records,
            Providers = _totals,
            AttemptsPerSecond = _attemptsPerSecond,
            Digest = Digest(),
            WallTime = Stopwatch.GetElapsedTime(started),
            VirtualTime = end,
        };
    }

    /// <summary>
    /// Moves the clock to a virtual time, stopping at every timer's due time on the way (so each fires at its own
    /// time) and never moving more than <see cref="MaxStep"/> at once.
    /// </summary>
    private void AdvanceTo(TimeSpan target)
    {
        DateTimeOffset end = Epoch + target;
        while (Time.GetUtcNow() < end)
        {
            DateTimeOffset next = Time.GetUtcNow() + MaxStep;
            if (end < next)
            {
                next = end;
            }

            if (Time.NextStop() is DateTimeOffset stop && stop < next)
            {
                next = stop;
            }

            Time.SetUtcNow(next);
        }

        // Timers created for exactly now by the last callbacks.
        _ = Time.NextStop();
    }

    /// <summary>Writes the router's view of the deployments (public <see cref="Deployment"/> state), at most once per 10 virtual seconds.</summary>
    private void Trace(LlmRouterChatClient router)
    {
        long tenSeconds = (long)Now.TotalSeconds / 10;
        if (_trace is null || tenSeconds == _tracedAt)
        {
            return;
        }

        _tracedAt = tenSeconds;
        IEnumerable<string> states = router.Deployments.Select(d =>
            $"{d.Name} {d.CircuitState} fail {d.FailureRate:0.00} est {d.GetLatencyEstimate(streaming: false)?.TotalSeconds ?? double.NaN:0.00} s"
            + (d.CooldownUntil is DateTimeOffset until ? $" cooling {(until - Time.GetUtcNow()).TotalSeconds:0.0} s" : ""));
        _trace.WriteLine($"[{_strategy.Key} t={Now.TotalSeconds:0} s {Scenario.PhaseAt(Now).Name}] {string.Join(" | ", states)}");
    }

    private async Task ServeAsync(IChatClient router, SimRequest request)
    {
        string? served = null;
        Exception? error = null;
        TimeSpan? firstUpdate = null;
        try
        {
            if (request.Streaming)
            {
                await foreach (ChatResponseUpdate update in router.GetStreamingResponseAsync(request.Messages, _chatOptions).ConfigureAwait(false))
                {
                    CheckThread();
                    if (firstUpdate is null)
                    {
                        firstUpdate = Now;
                        served = update.GetRoutingReport()?.Deployment;
                    }
                }
            }
            else
            {
                ChatResponse response = await router.GetResponseAsync(request.Messages, _chatOptions).ConfigureAwait(false);
                served = response.GetRoutingReport()?.Deployment;
            }
        }
        catch (LlmRouterException ex)
        {
            // AllAttemptsFailedException, NoAvailableDeploymentException: what a caller of the router gets when it gives up.
            error = ex;
        }

        CheckThread();
        ref RequestRecord record = ref _records[request.Id];
        record.Completed = true;
        record.Succeeded = error is null;
        record.Error = error?.GetType().Name;
        record.Total = Now - request.Arrival;
        record.Latency = firstUpdate is TimeSpan first ? first - request.Arrival : record.Total;
        record.ServedProvider = served is null ? -1 : _providerIndex[served];
        _inFlight.Remove(request.Messages[0]);
        _outstanding--;
    }

    /// <summary>FNV-1a over every request's outcome and every provider's totals.</summary>
    private string Digest()
    {
        ulong hash = 0xCBF2_9CE4_8422_2325UL;
        void Add(long value)
        {
            for (int i = 0; i < 8; i++)
            {
                hash = (hash ^ (byte)(value >> (8 * i))) * 0x0000_0100_0000_01B3UL;
            }
        }

        foreach (RequestRecord r in _records)
        {
            Add(r.Latency.Ticks);
            Add(r.Total.Ticks);
            Add(((long)r.Attempts << 32) | (uint)r.AttemptedMask);
            Add(((long)r.FirstProvider << 32) | (uint)r.ServedProvider);
            Add(r.Succeeded ? 1 : 0);
        }

        foreach (ProviderTotals t in _totals)
        {
            Add(t.Attempts);
            Add(t.Succeeded);
            Add(t.Unavailable);
            Add(t.RateLimited);
            Add(t.Hung);
            Add(t.Cancelled);
            Add(BitConverter.DoubleToInt64Bits(t.Cost));
        }

        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A provider's rate limit as providers enforce it: a token bucket refilled continuously at the per-minute rate
    /// (so 300/min is 5 per second), holding at most <see cref="BurstSeconds"/> worth of tokens. A call finding it empty
    /// gets a 429 whose Retry-After is the wait for the next token.
    /// </summary>
    private sealed class RateWindow(int? limit)
    {
        private const double BurstSeconds = 10;
        private double _tokens = limit is int l ? l / 60.0 * BurstSeconds : 0;
        private TimeSpan _refilledAt;

        public TimeSpan? TryAdmit(TimeSpan now)
        {
            if (limit is not int perMinute)
            {
                return null;
            }

            double perSecond = perMinute / 60.0;
            _tokens = Math.Min(perSecond * BurstSeconds, _tokens + ((now - _refilledAt).TotalSeconds * perSecond));
            _refilledAt = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                return null;
            }

            return TimeSpan.FromSeconds((1 - _tokens) / perSecond);
        }

        /// <summary>The bucket as rate-limit headers report it: the limit per minute, whole requests left, time until full.</summary>
        public RateReport? Report() => limit is int perMinute
            ? new RateReport(perMinute, (int)Math.Floor(_tokens), TimeSpan.FromSeconds(((perMinute / 60.0 * BurstSeconds) - _tokens) / (perMinute / 60.0)))
            : null;
    }
}

/// <summary>A provider's rate limit as its response headers report it.</summary>
internal readonly record struct RateReport(int Limit, int Remaining, TimeSpan ResetAfter);

/// <summary>A run stopped because work ran off its thread: its results would depend on thread timing.</summary>
public sealed class NonDeterministicRunException : Exception
{
    public NonDeterministicRunException()
    {
    }

    public NonDeterministicRunException(string message)
        : base(message)
    {
    }

    public NonDeterministicRunException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
