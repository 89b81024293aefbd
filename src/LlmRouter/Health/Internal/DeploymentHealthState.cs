namespace LlmRouter.Health.Internal;

/// <summary>
/// Everything the router learns about one deployment from its attempts: circuit and cooldown (<see cref="Circuit"/>),
/// decayed latency and failure statistics (<see cref="Latency"/>) and, for hedged routes, fitted latency quantiles. One
/// short lock guards all of them, so a success is recorded with one lock taken.
/// </summary>
internal sealed class DeploymentHealthState
{
    private readonly Lock _gate = new();
    private LatencyQuantile? _quantiles;
    private LatencyQuantile? _streamingQuantiles;

    public DeploymentHealthState(HealthOptions health, LatencyRankingOptions latency, RouterClock clock, TrafficCounter? traffic = null)
    {
        Circuit = new DeploymentHealth(health, clock, _gate);
        Latency = new LatencyStats(latency, clock, _gate, traffic);
    }

    /// <summary>Cooldowns, the circuit breaker and attempt counts.</summary>
    public DeploymentHealth Circuit { get; }

    /// <summary>The decayed means ranking reads, and the cold-probe slots.</summary>
    public LatencyStats Latency { get; }

    /// <summary>Starts fitting the latency distribution (for a hedged route's percentile delay).</summary>
    public void TrackQuantiles()
    {
        _quantiles ??= new LatencyQuantile();
        _streamingQuantiles ??= new LatencyQuantile();
    }

    /// <summary>The latency (streams: time to first update) at a percentile of recent answers, or <see langword="null"/> without enough data.</summary>
    public TimeSpan? LatencyAt(double percentile, bool streaming) => (streaming ? _streamingQuantiles : _quantiles)?.At(percentile);

    /// <summary>Records the time to first update of a non-streaming attempt made as a stream, for the hedging delay.</summary>
    public void RecordFirstUpdate(double seconds)
    {
        if (_streamingQuantiles is { } quantiles)
        {
            lock (_gate)
            {
                quantiles.RecordLocked(seconds);
            }
        }
    }

    /// <summary>
    /// Records a successful attempt: <paramref name="seconds"/> is the ranking's latency (normalised for output length, or
    /// time to first update), <paramref name="elapsedSeconds"/> the raw time hedging compares.
    /// </summary>
    public HealthTransition RecordSuccess(double seconds, bool streaming, long now, bool probe, double elapsedSeconds)
    {
        lock (_gate)
        {
            HealthTransition transition = Circuit.RecordSuccessLocked(now, probe);
            if (transition == HealthTransition.CircuitClosed)
            {
                Latency.ResetLocked();
            }

            Latency.RecordSuccessLocked(seconds, streaming, now);
            (streaming ? _streamingQuantiles : _quantiles)?.RecordLocked(elapsedSeconds);
            return transition;
        }
    }

    /// <summary>Gets the decayed mean latency for a request kind, or <see langword="null"/> before the first sample.</summary>
    public TimeSpan? LatencyEstimate(bool streaming)
    {
        double seconds = Latency.MeanSeconds(streaming);
        return double.IsNaN(seconds) ? null : TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
    }
}
