namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>
/// The system clock plus an offset the test moves forward. Real HTTP needs real time while the soak runs (attempt
/// timeouts must fire on a hung provider); afterwards <see cref="Shift"/> jumps past every break, cooldown and budget
/// window at once instead of sleeping through them. Timers run on the system clock, so a timer's due time is relative.
/// </summary>
internal sealed class ShiftedTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => System.LocalTimeZone;

    public void Shift(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        Interlocked.Add(ref _offsetTicks, by.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Volatile.Read(ref _offsetTicks));

    public override long GetTimestamp() =>
        System.GetTimestamp() + (long)(Volatile.Read(ref _offsetTicks) * (System.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(callback, state, dueTime, period);
}
