using System.Diagnostics;
using LlmRouter.Health.Internal;
using LlmRouter.Routing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// Deployments built as the router builds them (a <see cref="RouterClock"/> over a FakeTimeProvider, the router's
/// settings), routes over them, and request scopes, for driving <see cref="Selection"/> directly.
/// </summary>
internal sealed class SelectionHarness
{
    private readonly List<Deployment> _deployments = [];
    private RouterSettings? _settings;

    public SelectionHarness()
    {
        Clock = new RouterClock(Time);

        // Explicit values, so that no test depends on the defaults.
        Options.LatencyRanking.ExplorationRate = 0;
        Options.LatencyRanking.LatencyBuffer = 0;
        Options.LatencyRanking.MinimumSamples = 3;
        Options.LatencyRanking.MaxConcurrentColdProbes = 1;
        Options.Health.ConsecutiveFailureThreshold = 3;
        Options.Health.BreakDuration = TimeSpan.FromSeconds(30);
        Options.Health.RateLimitCooldown = TimeSpan.FromSeconds(5);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public RouterClock Clock { get; }

    /// <summary>The options the deployments' settings are read from: change them before the first <see cref="Add"/>.</summary>
    public LlmRouterOptions Options { get; } = new();

    public RouterSettings Settings => _settings ??= RouterSettings.From(Options);

    public RecordingObserver Observer { get; } = new();

    public long Now => Clock.Now();

    public IReadOnlyList<Deployment> Deployments => _deployments;

    public Deployment Add(string name, Action<DeploymentOptions>? configure = null)
    {
        var options = new DeploymentOptions { Name = name };
        configure?.Invoke(options);
        var d = new Deployment(_deployments.Count, options, new TestChatClient(name), Settings, Clock);
        _deployments.Add(d);
        return d;
    }

    /// <summary>Deployments "d0", "d1"... listed in that order.</summary>
    public Deployment[] AddMany(int count)
    {
        var added = new Deployment[count];
        for (int i = 0; i < count; i++)
        {
            added[i] = Add($"d{i}");
        }

        return added;
    }

    public LowestLatencyStrategy LowestLatency() => new(Settings.Latency);

    public static CompiledRoute Route(RankingStrategy strategy, params Deployment[] members) => new("chat", members, strategy, maxAttempts: null);

    public RequestScope Scope(int seed = 7) => new()
    {
        Random = new Random(seed),
        LatencyOptions = Settings.Latency,
        Observer = Observer,
    };

    /// <summary>Gives the deployment trusted non-streaming latency data: <see cref="LatencyRankingOptions.MinimumSamples"/> samples of <paramref name="seconds"/>.</summary>
    public void Measure(Deployment d, double seconds)
    {
        for (int i = 0; i < Options.LatencyRanking.MinimumSamples; i++)
        {
            d.HealthState.RecordSuccess(seconds, streaming: false, Now, probe: false, seconds);
        }

        Assert.False(d.Stats.IsCold(streaming: false, Now));
    }

    /// <summary>Opens the deployment's circuit by consecutive transient failures now.</summary>
    public void OpenCircuit(Deployment d)
    {
        for (int i = 0; i < Options.Health.ConsecutiveFailureThreshold; i++)
        {
            d.Health.RecordFailure(Now, FailureKind.Transient, retryAfter: null, probe: false);
        }

        Assert.Equal(CircuitState.Open, d.CircuitState);
    }

    /// <summary>Every pick the selection still hands out, in order (each holds its probe slots: nothing is released).</summary>
    public static List<Pick> Drain(ref Selection selection, in RequestScope scope, long now)
    {
        var picks = new List<Pick>();
        while (selection.Next(in scope, now, out Pick pick) is Deployment d)
        {
            Assert.Same(d, pick.Deployment);
            picks.Add(pick);
        }

        return picks;
    }

    /// <summary>Initializes a selection of <paramref name="route"/> now, hands out every pick and disposes it.</summary>
    public List<Pick> SelectAll(CompiledRoute route, RequestScope scope)
    {
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);
        long now = Now;
        Selection.Initialize(ref selection, route, in scope, now, ref unavailable);
        List<Pick> picks = Drain(ref selection, in scope, now);
        selection.Dispose();
        return picks;
    }

    public static string[] Names(List<Pick> picks) => [.. picks.Select(p => p.Deployment.Name)];
}

/// <summary>Records the deferrals at a rate limit that selection reports; ignores every other outcome.</summary>
internal sealed class RecordingObserver : IRoutingObserver
{
    public List<(string Route, string Deployment)> Deferred { get; } = [];

    public void DeferredAtRateLimit(string route, Deployment deployment) => Deferred.Add((route, deployment.Name));

    public Activity? AttemptStarting(RoutedRequest request, in Pick pick) => null;

    public void Picked(RoutedRequest request, in Pick pick)
    {
    }

    public void AttemptEnded(RoutedRequest request, in AttemptEnd end)
    {
    }

    public void HealthChanged(Deployment deployment, HealthTransition transition, in FailureClassification failure)
    {
    }

    public void LastResort(string route, Deployment deployment)
    {
    }

    public void Hedged(RoutedRequest request, Deployment deployment, bool won)
    {
    }

    public Activity? StreamServing(RoutedRequest request) => null;

    public void StreamEnded(Activity? servingSpan, Deployment deployment, string route, UsageDetails? usage, Exception? error)
    {
    }

    public void StreamAbandoned(Activity? servingSpan, Activity? requestSpan)
    {
    }

    public void Routed(Activity? requestSpan, RoutingReport? report)
    {
    }

    public void RequestEnded(string route, long startedAt, Exception? error)
    {
    }
}

/// <summary>A custom strategy (not built in) that writes fixed scores, one per listed deployment, looked up by name.</summary>
internal sealed class FixedScores(IReadOnlyDictionary<string, double> byName, bool limitsColdProbes = false) : RankingStrategy
{
    protected override bool LimitsColdProbes => limitsColdProbes;

    public override void Score(RankingContext context, Span<double> scores)
    {
        for (int i = 0; i < context.Candidates.Length; i++)
        {
            scores[i] = byName.TryGetValue(context.Candidates[i].Name, out double s) ? s : 0;
        }
    }
}
