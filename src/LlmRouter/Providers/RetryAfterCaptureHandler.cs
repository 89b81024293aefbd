using System.Net.Http;
using LlmRouter.Routing.Internal;

namespace LlmRouter.Providers;

/// <summary>Records Retry-After (or retry-after-ms) of 429, 503 and 529 responses into <see cref="RetryAfterHints"/>.</summary>
internal sealed class RetryAfterCaptureHandler(string httpClientName, RetryAfterHints hints, TimeProvider time) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        if (status is 429 or 503 or 529)
        {
            DateTimeOffset now = time.GetUtcNow();
            TimeSpan? hint = response.Headers.TryGetValues("retry-after-ms", out IEnumerable<string>? ms)
                ? ProviderErrorReader.ParseRetryAfter(ms.FirstOrDefault(), milliseconds: true, now)
                : response.Headers.TryGetValues("Retry-After", out IEnumerable<string>? values)
                    ? ProviderErrorReader.ParseRetryAfter(values.FirstOrDefault(), milliseconds: false, now)
                    : null;
            if (hint is TimeSpan retryAfter)
            {
                hints.Record(httpClientName, retryAfter, now);
            }
        }

        return response;
    }
}
