namespace LlmRouter.Health.Internal;

/// <summary>What a recorded outcome changed, so the caller can log transitions.</summary>
internal enum HealthTransition
{
    None,
    CircuitOpened,
    CircuitClosed,
    CooledDown,

    /// <summary>A sporadic rate limit: the deployment ranks after the others for a while but stays available.</summary>
    Throttled,
}

/// <summary>
/// Cooldown and circuit breaker of one deployment. Reads on the selection path are lock-free; outcome updates take a
/// short lock (never across an await). All times are <see cref="TimeProvider"/> timestamps.
/// </summary>
internal sealed class DeploymentHealth
{
    private readonly Lock _gate;
    private readonly HealthOptions _options;
    private readonly double _frequency;
    private readonly long _samplingTicks;
    private readonly long _breakTicks;

    private int _state; // CircuitState
    private long _openUntil;
    private long _cooldownUntil;
    private long _throttledUntil;
    private long _lastFailure;
    private int _consecutiveFailures;
    private int _probeSuccesses;
    private long _windowStart;
    private int _windowSuccesses;
    private int _windowFailures;
    private int _windowRateLimited;
    private long _successes;
    private long _failures;

    public DeploymentHealth(HealthOptions options, RouterClock clock, Lock gate)
    {
        _gate = gate;
        _options = options;
        _frequency = clock.Frequency;
        _samplingTicks = ToTicks(options.SamplingDuration);
        _breakTicks = ToTicks(options.BreakDuration);
    }

    public CircuitState State => (CircuitState)Volatile.Read(ref _state);

    public long CooldownUntil => Volatile.Read(ref _cooldownUntil);

    public long OpenUntil => Volatile.Read(ref _openUntil);

    /// <summary>Until when a sporadic rate limit ranks the deployment after the others (it stays available).</summary>
    public long ThrottledUntil => Volatile.Read(ref _throttledUntil);

    /// <summary>Whether a sporadic rate limit ranks the deployment after the others at <paramref name="now"/>.</summary>
    public bool IsThrottled(long now) => now < Volatile.Read(ref _throttledUntil);

    public long LastFailure => Volatile.Read(ref _lastFailure);

    public long Successes => Volatile.Read(ref _successes);

    public long Failures => Volatile.Read(ref _failures);

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>True when the deployment may be selected now (not cooling down, circuit closed or due for a probe).</summary>
    public bool IsAvailable(long now)
    {
        if (now < Volatile.Read(ref _cooldownUntil))
        {
            return false;
        }

        return Volatile.Read(ref _state) switch
        {
            (int)CircuitState.Closed => true,
            (int)CircuitState.Open => now >= Volatile.Read(ref _openUntil),
            _ => false,
        };
    }

    /// <summary>When the deployment can next be selected (<paramref name="now"/> if it can be now, or a probe is in flight).</summary>
    public long AvailableAt(long now)
    {
        long at = Math.Max(now, Volatile.Read(ref _cooldownUntil));
        if (Volatile.Read(ref _state) == (int)CircuitState.Open)
        {
            at = Math.Max(at, Volatile.Read(ref _openUntil));
        }

        return at;
    }

    /// <summary>
    /// Claims the deployment for an attempt. A closed circuit always admits; an open circuit past its break admits exactly
    /// one caller, who becomes the half-open probe.
    /// </summary>
    public bool TryAdmit(long now, out bool probe)
    {
        probe = false;
        if (now < Volatile.Read(ref _cooldownUntil))
        {
            return false;
        }

        int state = Volatile.Read(ref _state);
        if (state == (int)CircuitState.Closed)
        {
            return true;
        }

        if (state == (int)CircuitState.Open && now >= Volatile.Read(ref _openUntil)
            && Interlocked.CompareExchange(ref _state, (int)CircuitState.HalfOpen, (int)CircuitState.Open) == (int)CircuitState.Open)
        {
            probe = true;
            return true;
        }

        return false;
    }

    public HealthTransition RecordSuccess(long now, bool probe)
    {
        lock (_gate)
        {
            return RecordSuccessLocked(now, probe);
        }
    }

    /// <summary>As <see cref="RecordSuccess"/>, for a caller that holds the deployment's gate.</summary>
    public HealthTransition RecordSuccessLocked(long now, bool probe)
    {
        Volatile.Write(ref _successes, _successes + 1);
        _consecutiveFailures = 0;
        RollWindow(now);
        _windowSuccesses++;
        if (probe && _state == (int)CircuitState.HalfOpen)
        {
            if (++_probeSuccesses < _options.ProbesToClose)
            {
                // One success during a partial outage proves little: probe again at once (the next request), close after
                // HealthOptions.ProbesToClose successes in a row; any failure reopens for a full break.
                Volatile.Write(ref _openUntil, now);
                Volatile.Write(ref _state, (int)CircuitState.Open);
                return HealthTransition.None;
            }

            _probeSuccesses = 0;
            ResetWindow(now);
            Volatile.Write(ref _state, (int)CircuitState.Closed);
            return HealthTransition.CircuitClosed;
        }

        return HealthTransition.None;
    }

    /// <summary>
    /// Records a failure that counts against health (Transient, RateLimited, Misconfigured). A rate limit cools the
    /// deployment down only on evidence of a real limit (<paramref name="limitUsedUp"/>: the declared or reported limit
    /// had no room; a long Retry-After; a meaningful share of 429s in the window); otherwise it throttles (ranks last).
    /// </summary>
    public HealthTransition RecordFailure(long now, FailureKind kind, TimeSpan? retryAfter, bool probe, bool limitUsedUp = false)
    {
        Volatile.Write(ref _lastFailure, now);

        TimeSpan? cooldown = kind switch
        {
            FailureKind.RateLimited => Min(retryAfter ?? _options.RateLimitCooldown, _options.MaxCooldown),
            FailureKind.Misconfigured => _options.MisconfiguredCooldown,
            _ => retryAfter is TimeSpan hint ? Min(hint, _options.MaxCooldown) : null,
        };

        lock (_gate)
        {
            Volatile.Write(ref _failures, _failures + 1);
            RollWindow(now);
            HealthTransition transition = HealthTransition.None;
            if (kind == FailureKind.RateLimited && cooldown is TimeSpan wait && wait > TimeSpan.Zero
                && !IsRealLimit(retryAfter, limitUsedUp))
            {
                // One 429 among successes is not an outage: rank the deployment last for the wait, keep it as a last resort.
                long until = now + ToTicks(wait);
                if (until > _throttledUntil)
                {
                    Volatile.Write(ref _throttledUntil, until);
                }

                cooldown = null;
                transition = HealthTransition.Throttled;
            }

            if (cooldown is TimeSpan c && c > TimeSpan.Zero)
            {
                long until = now + ToTicks(c);
                if (until > _cooldownUntil)
                {
                    Volatile.Write(ref _cooldownUntil, until);
                }

                transition = HealthTransition.CooledDown;
            }

            _consecutiveFailures++;
            _windowFailures++;

            bool open;
            if (probe || _state == (int)CircuitState.HalfOpen)
            {
                open = probe;
            }
            else
            {
                int total = _windowSuccesses + _windowFailures;
                open = _state == (int)CircuitState.Closed
                    && (_consecutiveFailures >= _options.ConsecutiveFailureThreshold
                        || (total >= _options.MinimumThroughput && _windowFailures >= _options.FailureRatioThreshold * total));
            }

            if (open)
            {
                _probeSuccesses = 0;
                Volatile.Write(ref _openUntil, now + _breakTicks);
                Volatile.Write(ref _state, (int)CircuitState.Open);
                ResetWindow(now);
                return HealthTransition.CircuitOpened;
            }

            return transition;
        }
    }

    /// <summary>An admitted attempt ended without a verdict (caller cancelled, or the failure does not count): free a probe slot.</summary>
    public void ReleaseProbe(long now)
    {
        // Back to open with the break already elapsed, so the next request probes again.
        Volatile.Write(ref _openUntil, now);
        Interlocked.CompareExchange(ref _state, (int)CircuitState.Open, (int)CircuitState.HalfOpen);
    }

    public long ToTicks(TimeSpan span) => (long)Math.Min(long.MaxValue / 4, span.TotalSeconds * _frequency);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void RollWindow(long now)
    {
        if (now - _windowStart >= _samplingTicks)
        {
            ResetWindow(now);
        }
    }

    private void ResetWindow(long now)
    {
        _windowStart = now;
        _windowSuccesses = 0;
        _windowFailures = 0;
        _windowRateLimited = 0;
    }

    /// <summary>
    /// Counts a 429/529 in the window (caller holds the gate) and says whether it shows a real limit: the limit the router
    /// tracks was used up, the Retry-After is long, or enough of the window's attempts were rate limited.
    /// </summary>
    private bool IsRealLimit(TimeSpan? retryAfter, bool limitUsedUp)
    {
        _windowRateLimited++;
        if (limitUsedUp || retryAfter >= _options.LongRetryAfter)
        {
            return true;
        }

        int total = _windowSuccesses + _windowFailures + 1;
        return _windowRateLimited >= RouterDefaults.MinimumRateLimitedToCool
            && _windowRateLimited >= _options.RateLimitRatioThreshold * total;
    }
}
