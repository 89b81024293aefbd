using LlmRouter.Health.Internal;
using LlmRouter.Providers;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// A deployment's use of its provider's rate limits: the limits declared in its options
/// (<see cref="DeploymentOptions.RequestsPerMinute"/>, <see cref="DeploymentOptions.TokensPerMinute"/>) and those its
/// provider's rate-limit headers report, counted on between reports. A deployment without room ranks last.
/// </summary>
internal sealed class RateLimitState
{
    public RateLimitState(DeploymentOptions options, RouterClock clock, ReportedRateLimit? reported)
    {
        TimeSpan burst = TimeSpan.FromSeconds(RouterDefaults.RateLimitBurstSeconds);
        Requests = options.RequestsPerMinute is int rpm ? RateQuota.Declared(rpm, clock.Frequency, burst) : null;
        Tokens = options.TokensPerMinute is int tpm ? RateQuota.Declared(tpm, clock.Frequency, burst) : null;
        Reported = reported;
    }

    /// <summary>Use of <see cref="DeploymentOptions.RequestsPerMinute"/>, if set.</summary>
    public RateQuota? Requests { get; }

    /// <summary>Use of <see cref="DeploymentOptions.TokensPerMinute"/>, if set.</summary>
    public RateQuota? Tokens { get; }

    /// <summary>What the provider's rate-limit headers last said, when its HttpClient has the LlmRouter transport handler.</summary>
    public ReportedRateLimit? Reported { get; }

    /// <summary>Whether there is a limit to track: declared, or reported by the provider's headers.</summary>
    public bool Any => Requests is not null || Tokens is not null || Reported is not null;

    /// <summary>
    /// Whether one more request of <paramref name="promptTokens"/> fits the declared limits now, and the limits the provider
    /// reports, counted on since the last report, keep their margin (always, without limits). Reported limits are kept on a
    /// clock of the router's kind on the same TimeProvider, so <paramref name="now"/> serves both.
    /// </summary>
    public bool HasRoom(long now, long promptTokens) =>
        (Requests is null || Requests.HasRoom(now, 1)) && (Tokens is null || Tokens.HasRoom(now, promptTokens))
        && (Reported is null || Reported.HasRoom(now, promptTokens));

    /// <summary>Counts an attempt sent to the deployment against its declared and reported limits.</summary>
    public void Use(long now, long promptTokens)
    {
        Requests?.Use(now, 1);
        Tokens?.Use(now, promptTokens);
        Reported?.Use(now, promptTokens);
    }

    /// <summary>Counts the output tokens a response reported against the token limits.</summary>
    public void UseOutputTokens(long now, long outputTokens)
    {
        Tokens?.Use(now, outputTokens);
        Reported?.Tokens.Use(now, outputTokens);
    }
}
