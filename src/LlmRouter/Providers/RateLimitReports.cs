using System.Collections.Concurrent;

namespace LlmRouter.Providers;

/// <summary>
/// What providers' rate-limit response headers last said, per named HttpClient (one provider account each): the transport
/// (<see cref="ResponseHeadersCaptureHandler"/>) writes it on every response, the router reads it for deployments that name
/// that client (<see cref="DeploymentOptions.HttpClientName"/>).
/// </summary>
internal sealed class RateLimitReports
{
    private readonly ConcurrentDictionary<string, ReportedRateLimit> _byClient = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The report of one HttpClient, created empty on first use (the router holds it from start-up).</summary>
    public ReportedRateLimit For(string httpClientName) => _byClient.GetOrAdd(httpClientName, static _ => new ReportedRateLimit());
}

/// <summary>
/// One provider account's rate limits as its last response reported them, reduced to what routing needs: until when so
/// little of a limit is left that the deployment should rank last. Written by the transport, read lock-free by selection.
/// </summary>
internal sealed class ReportedRateLimit
{
    /// <summary>Below this share of a limit left, the deployment ranks after those with room, until the share is back.</summary>
    public const double LowShare = 0.02;

    // UTC ticks; 0 when the last report left room.
    private long _lowUntil;

    /// <summary>Whether the last report left too little room and the time it takes to come back has not passed.</summary>
    public bool IsLow(TimeProvider time)
    {
        long until = Volatile.Read(ref _lowUntil);
        return until != 0 && time.GetUtcNow().UtcTicks < until;
    }

    /// <summary>Records a response's report: <paramref name="lowFor"/> is how long its scarcest limit needs to be back above <see cref="LowShare"/>, or <see langword="null"/> when every limit has room.</summary>
    public void Update(TimeSpan? lowFor, DateTimeOffset now) =>
        Volatile.Write(ref _lowUntil, lowFor is TimeSpan span && span > TimeSpan.Zero ? (now + span).UtcTicks : 0);

    /// <summary>
    /// How long a per-minute limit with <paramref name="remaining"/> left takes to be back above <see cref="LowShare"/> of
    /// itself at its steady refill rate, at most until <paramref name="resetAfter"/> (when the provider says it is full
    /// again); <see langword="null"/> when it has room.
    /// </summary>
    public static TimeSpan? LowFor(long limit, long remaining, TimeSpan? resetAfter)
    {
        if (limit <= 0)
        {
            return null;
        }

        double threshold = Math.Max(1, limit * LowShare);
        if (remaining >= threshold)
        {
            return null;
        }

        TimeSpan refill = TimeSpan.FromSeconds((threshold - Math.Max(0, remaining)) * 60 / limit);
        return resetAfter is TimeSpan reset && reset < refill ? reset : refill;
    }
}
