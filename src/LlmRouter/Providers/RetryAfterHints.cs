using System.Collections.Concurrent;

namespace LlmRouter.Providers;

/// <summary>
/// Retry-After values seen on rate-limit and overload responses, per named HttpClient and status. Some SDKs (Anthropic's,
/// or any client that throws a bare <see cref="HttpRequestException"/>) drop response headers from their exceptions; the
/// transport captures the hint here and the router reads it when it classifies the failure of a deployment that uses
/// that HttpClient (<see cref="DeploymentOptions.HttpClientName"/>). Off the hot path: written only on 429/503/529.
/// </summary>
/// <remarks>
/// A hint applies only to a failure with the status of the response that carried it: under concurrent traffic a 429's
/// Retry-After would otherwise be read into the deployment's next 500 or reset, cooling the deployment down for it.
/// </remarks>
internal sealed class RetryAfterHints
{
    private readonly ConcurrentDictionary<(string Client, int Status), DateTimeOffset> _until = new(ClientAndStatus.Comparer);

    public void Record(string httpClientName, int status, TimeSpan retryAfter, DateTimeOffset now)
    {
        DateTimeOffset until = now + retryAfter;
        _until.AddOrUpdate((httpClientName, status), until, (_, existing) => existing > until ? existing : until);
    }

    /// <summary>Gets the remaining Retry-After for the client's responses of <paramref name="status"/>, if a hint is still in force.</summary>
    public TimeSpan? Remaining(string httpClientName, int? status, DateTimeOffset now) =>
        status is int s && _until.TryGetValue((httpClientName, s), out DateTimeOffset until) && until > now ? until - now : null;

    private sealed class ClientAndStatus : IEqualityComparer<(string Client, int Status)>
    {
        public static readonly ClientAndStatus Comparer = new();

        public bool Equals((string Client, int Status) x, (string Client, int Status) y) =>
            x.Status == y.Status && StringComparer.OrdinalIgnoreCase.Equals(x.Client, y.Client);

        public int GetHashCode((string Client, int Status) key) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key.Client), key.Status);
    }
}
