namespace LlmRouter.Health.Internal;

/// <summary>
/// A feature above routing keeping a deployment out of routing until a time (a deployment budget exhausted until its
/// window resets). Routing reads it on every pick; the holder writes it through the router's topology.
/// </summary>
internal sealed class RoutingHold(RouterClock clock)
{
    // Router-clock time until which the deployment is held out; MinValue when not held.
    private long _until = long.MinValue;

    /// <summary>Whether the deployment is held out at router-clock time <paramref name="now"/>.</summary>
    public bool IsHeld(long now) => Volatile.Read(ref _until) > now;

    /// <summary>Whether the deployment is held out now.</summary>
    public bool IsHeldNow => IsHeld(clock.Now());

    /// <summary>Holds the deployment out until <paramref name="until"/>; <see cref="DateTimeOffset.MaxValue"/> holds it for good.</summary>
    public void HoldUntil(DateTimeOffset until)
    {
        if (until == DateTimeOffset.MaxValue)
        {
            Volatile.Write(ref _until, long.MaxValue);
            return;
        }

        TimeSpan left = until - clock.TimeProvider.GetUtcNow();
        Volatile.Write(ref _until, left <= TimeSpan.Zero ? long.MinValue : clock.Now() + clock.ToTicks(left));
    }
}
