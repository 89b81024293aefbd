namespace LlmRouter.Health.Internal;

/// <summary>
/// Per-deployment latency and failure statistics used by ranking: a decayed mean of normalised total time
/// (non-streaming), of time to first token (streaming), and of the failure rate. Writers take a short lock (a few
/// arithmetic operations, never across an await); readers read published values without locking.
/// </summary>
internal sealed class LatencyStats
{
    private readonly Lock _gate;
    private readonly double _decayPerTick;
    private readonly long _staleTicks;
    private readonly int _minimumSamples;
    private readonly double _frequency;
    private DecayedMean _total = new();
    private DecayedMean _firstToken = new();
    private DecayedMean _failures = new();
    private readonly double[] _totalWarmup;
    private readonly double[] _firstTokenWarmup;
    private int _coldProbes;
    private readonly TrafficCounter? _traffic;
    private long _lastOutcomeAt; // the router's request count at this deployment's last outcome

    public LatencyStats(LatencyRankingOptions options, RouterClock clock, Lock gate, TrafficCounter? traffic = null)
    {
        _gate = gate;
        _traffic = traffic;
        _frequency = clock.Frequency;
        _decayPerTick = Math.Log(2) / (options.HalfLife.TotalSeconds * _frequency);
        _staleTicks = (long)Math.Min(long.MaxValue / 4, options.StaleAfter.TotalSeconds * _frequency);
        _minimumSamples = options.MinimumSamples;
        _totalWarmup = new double[Math.Min(_minimumSamples, MaxWarmupSamples)];
        _firstTokenWarmup = new double[_totalWarmup.Length];
    }

    // A deployment's first calls pay for connection set-up and the SDK's first-use costs: its first MinimumSamples samples
    // (up to this many) seed the mean with their median, so one cold-start outlier cannot make a fast deployment look slow.
    private const int MaxWarmupSamples = 16;

    /// <summary>Gets the decayed failure rate in [0, 1]; 0 before any attempt.</summary>
    public double FailureRate
    {
        get
        {
            double rate = Volatile.Read(ref _failures.Mean);
            return double.IsNaN(rate) ? 0 : rate;
        }
    }

    public long TotalSamples => Volatile.Read(ref _total.Count);

    public long FirstTokenSamples => Volatile.Read(ref _firstToken.Count);

    /// <summary>Gets the mean latency in seconds for the request kind, NaN when none.</summary>
    public double MeanSeconds(bool streaming) => Volatile.Read(ref streaming ? ref _firstToken.Mean : ref _total.Mean);

    /// <summary>
    /// True when the deployment has too little recent evidence for the request kind: fewer than MinimumSamples samples,
    /// a decayed sample weight that has fallen below half of MinimumSamples (a deployment left alone for a half-life or more), or
    /// nothing for StaleAfter. Cold deployments are probed again (boundedly), so a recovered one is found.
    /// Evidence that was once trusted fades with traffic too: it only turns cold once the router has begun
    /// <see cref="RouterDefaults.RequestsBeforeReprobe"/> requests since the deployment's last outcome, so under light
    /// traffic a known-bad deployment is not probed again every time a half-life passes.
    /// </summary>
    public bool IsCold(bool streaming, long now)
    {
        ref DecayedMean m = ref streaming ? ref _firstToken : ref _total;
        if (now <= Volatile.Read(ref m.TrustedUntil) && now - Volatile.Read(ref m.LastTimestamp) <= _staleTicks)
        {
            return false;
        }

        return _traffic is null || Volatile.Read(ref m.Count) < _minimumSamples
            || _traffic.Requests - Volatile.Read(ref _lastOutcomeAt) >= RouterDefaults.RequestsBeforeReprobe;
    }

    public void RecordSuccess(double seconds, bool streaming, long now)
    {
        lock (_gate)
        {
            RecordSuccessLocked(seconds, streaming, now);
        }
    }

    /// <summary>As <see cref="RecordSuccess"/>, for a caller that holds the deployment's gate.</summary>
    public void RecordSuccessLocked(double seconds, bool streaming, long now)
    {
        MarkOutcome();
        AddLatency(seconds, streaming, now);
        _failures.Add(0, now, _decayPerTick);
    }

    /// <summary>Records a failure; a timed-out attempt also records its duration as a (slow) latency sample.</summary>
    public void RecordFailure(double? slowSeconds, bool streaming, long now)
    {
        lock (_gate)
        {
            MarkOutcome();
            if (slowSeconds is double s)
            {
                AddLatency(s, streaming, now);
            }

            _failures.Add(1, now, _decayPerTick);
        }
    }

    /// <summary>
    /// Forgets every sample, for a caller that holds the deployment's gate: used when a circuit closes after an outage,
    /// whose timeouts and failures say nothing about the recovered deployment, so it is re-measured (cold) at once.
    /// </summary>
    public void ResetLocked()
    {
        _total = new DecayedMean();
        _firstToken = new DecayedMean();
        _failures = new DecayedMean();
    }

    private void AddLatency(double seconds, bool streaming, long now)
    {
        ref DecayedMean m = ref streaming ? ref _firstToken : ref _total;
        double[] warmup = streaming ? _firstTokenWarmup : _totalWarmup;
        long index = m.Count;
        m.Add(seconds, now, _decayPerTick);
        if (index < warmup.Length)
        {
            warmup[index] = seconds;
            if (index == warmup.Length - 1)
            {
                m.Seed(Median(warmup), warmup.Length);
            }
        }

        if (m.Count >= _minimumSamples)
        {
            // Trusted until the decayed evidence falls to half the minimum: about one half-life after the last of just
            // MinimumSamples samples, longer for a deployment with a long history.
            m.UpdateTrust(_minimumSamples * 0.5, _decayPerTick);
        }
    }

    private static double Median(double[] samples)
    {
        double[] sorted = [.. samples];
        Array.Sort(sorted);
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public bool TryAcquireColdProbe(int max)
    {
        int current = Volatile.Read(ref _coldProbes);
        while (current < max)
        {
            int seen = Interlocked.CompareExchange(ref _coldProbes, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void ReleaseColdProbe() => Interlocked.Decrement(ref _coldProbes);

    /// <summary>Cold-probe slots taken and not yet given back (zero whenever no request is in flight).</summary>
    public int ColdProbesInFlight => Volatile.Read(ref _coldProbes);

    private void MarkOutcome()
    {
        if (_traffic is not null)
        {
            Volatile.Write(ref _lastOutcomeAt, _traffic.Requests);
        }
    }

    public double ToSeconds(long ticks) => ticks / _frequency;
}
