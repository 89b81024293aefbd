namespace LlmRouter.Health.Internal;

/// <summary>
/// Use of one provider quota (requests or tokens per minute), tracked with the generic cell rate algorithm: a single
/// timestamp, the theoretical arrival time, that every unit used pushes forward by a minute divided by the limit. Its lead
/// over now is the backlog; the quota has room while the backlog stays within a burst. Lock-free: one compare-and-swap per
/// use, one read per check. Router-clock ticks throughout.
/// </summary>
internal sealed class RateQuota
{
    private readonly double _ticksPerUnit;
    private readonly long _burstTicks;
    private readonly long _maxBacklogTicks;
    private long _theoreticalArrival = long.MinValue / 2;

    public RateQuota(int perMinute, double frequency, TimeSpan burst)
    {
        Limit = perMinute;
        _ticksPerUnit = 60 * frequency / perMinute;
        _burstTicks = (long)(burst.TotalSeconds * frequency);

        // Use beyond the limit (everything else was at its limit too) is remembered for at most a minute.
        _maxBacklogTicks = (long)(60 * frequency);
    }

    /// <summary>The limit per minute.</summary>
    public int Limit { get; }

    /// <summary>
    /// Whether <paramref name="units"/> more fit at <paramref name="now"/>: the backlog they would leave is within the burst,
    /// or the quota is idle (a single request larger than the burst still gets through an idle quota).
    /// </summary>
    public bool HasRoom(long now, long units)
    {
        long backlog = Volatile.Read(ref _theoreticalArrival) - now;
        return backlog <= 0 || backlog + (units * _ticksPerUnit) <= _burstTicks;
    }

    /// <summary>Records <paramref name="units"/> used at <paramref name="now"/>.</summary>
    public void Use(long now, long units)
    {
        if (units <= 0)
        {
            return;
        }

        long cost = (long)Math.Min(units * _ticksPerUnit, _maxBacklogTicks);
        long seen = Volatile.Read(ref _theoreticalArrival);
        while (true)
        {
            long next = Math.Min(Math.Max(seen, now) + cost, now + _maxBacklogTicks);
            long actual = Interlocked.CompareExchange(ref _theoreticalArrival, next, seen);
            if (actual == seen)
            {
                return;
            }

            seen = actual;
        }
    }
}
