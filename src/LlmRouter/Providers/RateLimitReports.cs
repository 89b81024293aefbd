using System.Collections.Concurrent;
using LlmRouter.Health.Internal;

namespace LlmRouter.Providers;

/// <summary>
/// What providers' rate-limit response headers said, per named HttpClient (one provider account each): the transport
/// (<see cref="ResponseHeadersCaptureHandler"/>) writes it on every response, the router reads it for deployments that name
/// that client (<see cref="DeploymentOptions.HttpClientName"/>) and counts what it sends there in between.
/// </summary>
internal sealed class RateLimitReports(TimeProvider? time = null)
{
    private readonly ConcurrentDictionary<string, ReportedRateLimit> _byClient = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The clock reports are kept on: the router's own kind (<see cref="RouterClock"/>), so a router on the same
    /// <see cref="TimeProvider"/> compares its timestamps with them directly, with no wall-clock read per request.
    /// </summary>
    public RouterClock Clock { get; } = new(time ?? TimeProvider.System);

    /// <summary>The report of one HttpClient, created empty on first use (the router holds it from start-up).</summary>
    public ReportedRateLimit For(string httpClientName) => _byClient.GetOrAdd(httpClientName, static (_, clock) => new ReportedRateLimit(clock), Clock);
}

/// <summary>
/// One provider account's request and token limits as its responses report them, kept current between responses by
/// counting what the router sends: each is a cell-rate quota (<see cref="ReportedQuota"/>) seeded by every report.
/// Times are timestamps of <see cref="Clock"/>.
/// </summary>
internal sealed class ReportedRateLimit(RouterClock clock)
{
    public RouterClock Clock => clock;

    public ReportedQuota Requests { get; } = new(clock.Frequency);

    public ReportedQuota Tokens { get; } = new(clock.Frequency);

    /// <summary>Whether any report has arrived (until then the deployment is ranked as if it had no limit).</summary>
    public bool IsKnown => Requests.IsKnown || Tokens.IsKnown;

    /// <summary>Whether one more request of <paramref name="promptTokens"/> leaves the reported limits their safety margin.</summary>
    public bool HasRoom(long now, long promptTokens) => Requests.HasRoom(now, 1) && Tokens.HasRoom(now, promptTokens);

    /// <summary>Counts an attempt sent to the provider (its prompt against the token limit).</summary>
    public void Use(long now, long promptTokens)
    {
        Requests.Use(now, 1);
        Tokens.Use(now, promptTokens);
    }
}

/// <summary>
/// A provider's per-minute limit as the generic cell rate algorithm sees it: every unit used pushes the theoretical
/// arrival time a minute divided by the limit further out; its lead over now is the time the provider's bucket needs to
/// be full again, which is exactly what the reset header says. A report sets the rate (limit), the bucket's capacity
/// (remaining plus what refills by the reset) and moves the arrival time out to the reported reset when that is later
/// than the router's own count (which already includes requests still in flight, sent after the reported one). Between
/// reports the router counts what it sends. Lock-free; timestamps of a clock ticking <c>frequency</c> times a second.
/// </summary>
internal sealed class ReportedQuota(double frequency)
{
    /// <summary>The share of a limit kept free (at least one unit): room for other clients of the key and for estimates.</summary>
    public const double Margin = 0.02;

    private readonly long _minute = (long)(60 * frequency);

    // Written together by a report; a reader seeing a mix of two reports' values errs by one report, which is harmless.
    private double _ticksPerUnit;
    private long _capacityTicks;
    private long _marginTicks;
    private long _theoreticalArrival;

    public bool IsKnown => Volatile.Read(ref _ticksPerUnit) > 0;

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
        Volatile.Write(ref _capacityTicks, (long)(remaining * perUnit) + reset);
        Volatile.Write(ref _marginTicks, (long)(Math.Max(1, limit * Margin) * perUnit));
        Volatile.Write(ref _ticksPerUnit, perUnit);
        Advance(now + reset, now, add: 0);
    }

    /// <summary>
    /// Whether <paramref name="units"/> more leave the margin free: the bucket is full, or its backlog plus them plus the
    /// margin fits its capacity. True before any report.
    /// </summary>
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

    /// <summary>Counts <paramref name="units"/> sent at <paramref name="now"/> (nothing before the first report).</summary>
    public void Use(long now, long units)
    {
        double perUnit = Volatile.Read(ref _ticksPerUnit);
        if (perUnit > 0 && units > 0)
        {
            Advance(floor: 0, now, add: (long)Math.Min(units * perUnit, _minute));
        }
    }

    /// <summary>Sets the arrival time to max(itself, now) + add, and at least <paramref name="floor"/>; at most a minute of backlog beyond the capacity.</summary>
    private void Advance(long floor, long now, long add)
    {
        long seen = Volatile.Read(ref _theoreticalArrival);
        while (true)
        {
            long next = Math.Max(Math.Max(seen, now) + add, floor);
            next = Math.Min(next, now + Volatile.Read(ref _capacityTicks) + _minute);
            long actual = Interlocked.CompareExchange(ref _theoreticalArrival, next, seen);
            if (actual == seen)
            {
                return;
            }

            seen = actual;
        }
    }
}
