using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Simulation;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells the simulation loop when each of its timers is due (provider
/// completions and the router's own: attempt timeouts, delays), so the loop can stop the clock exactly there.
/// FakeTimeProvider fires every timer due up to the new time when the clock moves, but with the clock already at the
/// new time; stopping at each due time makes every timer fire at its own virtual time.
/// </summary>
public sealed class SimulationClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly PriorityQueue<long, long> _stops = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new StopTimer(this, period);
        timer.Inner = base.CreateTimer(
            s =>
            {
                var t = (StopTimer)s!;
                if (t.Period > TimeSpan.Zero && t.Period != Timeout.InfiniteTimeSpan)
                {
                    AddStop(t.Period);
                }

                callback(state);
            },
            timer,
            dueTime,
            period);
        AddStop(dueTime);
        return timer;
    }

    /// <summary>
    /// The earliest due time after the current time, or null when no timer is due. Fires timers due exactly now that were
    /// created after the clock last moved (FakeTimeProvider fires timers only when the clock is set).
    /// </summary>
    public DateTimeOffset? NextStop()
    {
        long now = GetUtcNow().UtcTicks;
        bool dueNow = false;
        while (_stops.TryPeek(out long at, out _) && at <= now)
        {
            dueNow |= at == now;
            _stops.Dequeue();
        }

        if (dueNow)
        {
            SetUtcNow(GetUtcNow());
            return NextStop();
        }

        return _stops.TryPeek(out long next, out _) ? new DateTimeOffset(next, TimeSpan.Zero) : null;
    }

    private void AddStop(TimeSpan dueTime)
    {
        if (dueTime == Timeout.InfiniteTimeSpan || dueTime < TimeSpan.Zero)
        {
            return;
        }

        long at = GetUtcNow().UtcTicks + dueTime.Ticks;
        _stops.Enqueue(at, at);
    }

    /// <summary>A timer whose every (re)scheduling is a stop for the loop. Stale stops (disposed or changed timers) only cost a step.</summary>
    private sealed class StopTimer(SimulationClock clock, TimeSpan period) : ITimer
    {
        public ITimer Inner { get; set; } = null!;

        public TimeSpan Period { get; private set; } = period;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Period = period;
            clock.AddStop(dueTime);
            return Inner.Change(dueTime, period);
        }

        public void Dispose() => Inner.Dispose();

        public ValueTask DisposeAsync() => Inner.DisposeAsync();
    }
}
