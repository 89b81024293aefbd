namespace LlmRouter.Health.Internal;

/// <summary>
/// A provider's per-minute limit (requests or tokens) tracked with the generic cell rate algorithm: a single timestamp,
/// the theoretical arrival time, that every unit used pushes forward by a minute divided by the limit. Its lead over now
/// is the backlog, the time the provider's bucket needs to be full again; the quota has room while the backlog plus the
/// next units plus a margin fits the bucket's capacity (or the quota is idle: a request larger than the whole bucket
/// still gets through an idle one). Lock-free: one compare-and-swap per use, a few reads per check. Timestamps of a clock
/// ticking <c>frequency</c> times a second.
/// <para>
/// Declared limits (<see cref="Declared"/>) fix the rate and a capacity of a burst, with no margin. Limits a provider
/// reports in its response headers start unknown (room always) and each <see cref="Report"/> sets the rate, the capacity
/// (what is left plus what refills by the reset), a margin, and moves the arrival time out to the reported reset when
/// that is later than the router's own count, which already includes requests in flight sent after the reported one.
/// </para>
/// </summary>
internal sealed class RateQuota(double frequency)
{
    /// <summary>The share of a reported limit kept free (at least one unit): room for other clients of the key and for estimates.</summary>
    public const double ReportedMargin = 0.02;

    private readonly long _minute = (long)(60 * frequency);

    // Written together by a report; a reader seeing a mix of two reports' values errs by one report, which is harmless.
    private double _ticksPerUnit;
    private long _capacityTicks;
    private long _marginTicks;
    private long _theoreticalArrival = long.MinValue / 2;

    /// <summary>The limit per minute: declared, or as last reported (0 before any report).</summary>
    public int Limit { get; private set; }

    /// <summary>Whether the rate is known (declared, or reported at least once).</summary>
    public bool IsKnown => Volatile.Read(ref _ticksPerUnit) > 0;

    /// <summary>A declared limit: <paramref name="perMinute"/>, with a capacity of <paramref name="burst"/> of its rate and no margin.</summary>
    public static RateQuota Declared(int perMinute, double frequency, TimeSpan burst)
    {
        var quota = new RateQuota(frequency) { Limit = perMinute };
        quota._ticksPerUnit = quota._minute / (double)perMinute;
        quota._capacityTicks = (long)(burst.TotalSeconds * frequency);
        return quota;
    }

    /// <summary>Records a response's report of this limit at <paramref name="now"/>.</summary>
    public void Report(long limit, long remaining, TimeSpan? resetAfter, long now)
    {
        if (limit <= 0)
        {
            return;
        }

        double perUnit = (double)_minute / limit;
        remaining = Math.Clamp(remaining, 0, limit);

        // Without a reset, assume the bucket holds a minute and refills at the limit (OpenAI's and Anthropic's model).
        long reset = resetAfter is TimeSpan r && r > TimeSpan.Zero ? (long)(r.TotalSeconds * frequency) : (long)((limit - remaining) * perUnit);
        Limit = (int)Math.Min(limit, int.MaxValue);
        Volatile.Write(ref _capacityTicks, (long)(remaining * perUnit) + reset);
        Volatile.Write(ref _marginTicks, (long)(Math.Max(1, limit * ReportedMargin) * perUnit));
        Volatile.Write(ref _ticksPerUnit, perUnit);
        Advance(now + reset, now, add: 0);
    }

    /// <summary>Whether <paramref name="units"/> more fit at <paramref name="now"/>, leaving the margin free. True while the rate is unknown.</summary>
    public bool HasRoom(long now, long units)
    {
        double perUnit = Volatile.Read(ref _ticksPerUnit);
        if (perUnit <= 0)
        {
            return true;
        }

        long backlog = Volatile.Read(ref _theoreticalArrival) - now;
        return backlog <= 0 || backlog + (long)(units * perUnit) + Volatile.Read(ref _marginTicks) <= Volatile.Read(ref _capacityTicks);
    }

    /// <summary>Counts <paramref name="units"/> sent at <paramref name="now"/> (nothing while the rate is unknown).</summary>
    public void Use(long now, long units)
    {
        double perUnit = Volatile.Read(ref _ticksPerUnit);
        if (perUnit > 0 && units > 0)
        {
            Advance(floor: long.MinValue, now, add: (long)Math.Min(units * perUnit, _minute));
        }
    }

    /// <summary>
    /// Sets the arrival time to max(itself, now) + add, and at least <paramref name="floor"/>; at most a minute (or the
    /// capacity, if larger) ahead: use beyond the limit (everything else was at its limit too) is remembered that long.
    /// </summary>
    private void Advance(long floor, long now, long add)
    {
        long seen = Volatile.Read(ref _theoreticalArrival);
        while (true)
        {
            long next = Math.Max(Math.Max(seen, now) + add, floor);
            next = Math.Min(next, now + Math.Max(_minute, Volatile.Read(ref _capacityTicks)));
            long actual = Interlocked.CompareExchange(ref _theoreticalArrival, next, seen);
            if (actual == seen)
            {
                return;
            }

            seen = actual;
        }
    }
}
