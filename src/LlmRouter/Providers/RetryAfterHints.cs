using System.Collections.Concurrent;

namespace LlmRouter.Providers;

/// <summary>
/// Retry-After values seen on rate-limit and overload responses, per named HttpClient. Some SDKs (Anthropic's, or any
/// client that throws a bare <see cref="HttpRequestException"/>) drop response headers from their exceptions; the
/// transport captures the hint here and the router reads it when it classifies the failure of a deployment that uses
/// that HttpClient (<see cref="DeploymentOptions.HttpClientName"/>). Off the hot path: written only on 429/503/529.
/// </summary>
internal sealed class RetryAfterHints
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _until = new(StringComparer.OrdinalIgnoreCase);

    public void Record(string httpClientName, TimeSpan retryAfter, DateTimeOffset now)
    {
        DateTimeOffset until = now + retryAfter;
        _until.AddOrUpdate(httpClientName, until, (_, existing) => existing > until ? existing : until);
    }

    /// <summary>Gets the remaining Retry-After for the client, if a hint is still in force.</summary>
    public TimeSpan? Remaining(string httpClientName, DateTimeOffset now) =>
        _until.TryGetValue(httpClientName, out DateTimeOffset until) && until > now ? until - now : null;
}
