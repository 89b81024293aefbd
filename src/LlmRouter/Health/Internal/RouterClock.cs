namespace LlmRouter.Health.Internal;

/// <summary>
/// The router's monotonic clock for latency, cooldowns and circuits. With <see cref="TimeProvider.System"/> it reads
/// <see cref="Environment.TickCount64"/> (a coarse monotonic clock, about 7 ns to read here against about 24 ns for
/// <c>Stopwatch.GetTimestamp</c>, with 1-4 ms resolution: ample for LLM calls, which take tens of milliseconds to
/// minutes, and two reads per request make it the largest saving on the hot path). Any other provider (FakeTimeProvider
/// in tests) is used as is.
/// </summary>
internal sealed class RouterClock
{
    private readonly TimeProvider _time;
    private readonly bool _coarse;

    public RouterClock(TimeProvider time)
    {
        _time = time;
        _coarse = ReferenceEquals(time, TimeProvider.System);
        Frequency = _coarse ? 1000 : time.TimestampFrequency;
    }

    public TimeProvider TimeProvider => _time;

    /// <summary>Ticks per second of <see cref="Now"/>.</summary>
    public double Frequency { get; }

    public long Now() => _coarse ? Environment.TickCount64 : _time.GetTimestamp();

    public TimeSpan Elapsed(long start, long end) => TimeSpan.FromTicks((long)Math.Round((end - start) * (TimeSpan.TicksPerSecond / Frequency)));

    public long ToTicks(TimeSpan span) => (long)Math.Min(long.MaxValue / 4, span.TotalSeconds * Frequency);

    /// <summary>Converts a timestamp of this clock to wall-clock time.</summary>
    public DateTimeOffset ToUtc(long timestamp) => _time.GetUtcNow() + Elapsed(Now(), timestamp);
}
