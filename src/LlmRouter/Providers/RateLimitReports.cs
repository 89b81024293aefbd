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
/// counting what the router sends: each is a cell-rate quota (<see cref="RateQuota"/>) seeded by every report.
/// Times are timestamps of <see cref="Clock"/>.
/// </summary>
internal sealed class ReportedRateLimit(RouterClock clock)
{
    public RouterClock Clock => clock;

    public RateQuota Requests { get; } = new(clock.Frequency);

    public RateQuota Tokens { get; } = new(clock.Frequency);

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
