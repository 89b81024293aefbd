using System.Globalization;
using System.Net.Http;
using System.Net.Http.Headers;
using LlmRouter.Providers.Internal;
using LlmRouter.Routing.Internal;

namespace LlmRouter.Providers;

/// <summary>
/// Reads the provider headers routing uses from every response of a provider's HttpClient: Retry-After (or
/// retry-after-ms) of 429, 503 and 529 into <see cref="RetryAfterHints"/>, and the rate-limit headers OpenAI (and Azure
/// OpenAI) and Anthropic send with every answer into <see cref="RateLimitReports"/>. Headers only: bodies and streams
/// pass through untouched.
/// </summary>
internal sealed class ResponseHeadersCaptureHandler(string httpClientName, RetryAfterHints hints, ReportedRateLimit rateLimit, TimeProvider time) : DelegatingHandler
{
    // The limits a response may report, by vendor: OpenAI's reset is a duration ("6m0s"), Anthropic's a time (RFC 3339).
    private static readonly (string Limit, string Remaining, string Reset, bool Requests)[] OpenAILimits =
        [.. new[] { "requests", "tokens" }.Select(k => ($"x-ratelimit-limit-{k}", $"x-ratelimit-remaining-{k}", $"x-ratelimit-reset-{k}", k == "requests"))];

    private static readonly (string Limit, string Remaining, string Reset, bool Requests)[] AnthropicLimits =
        [.. new[] { "requests", "tokens", "input-tokens", "output-tokens" }.Select(k => ($"anthropic-ratelimit-{k}-limit", $"anthropic-ratelimit-{k}-remaining", $"anthropic-ratelimit-{k}-reset", k == "requests"))];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = time.GetUtcNow();
        int status = (int)response.StatusCode;
        if (status is 429 or 503 or 529)
        {
            TimeSpan? hint = response.Headers.TryGetValues("retry-after-ms", out IEnumerable<string>? ms)
                ? ProviderErrorReader.ParseRetryAfter(ms.FirstOrDefault(), milliseconds: true, now)
                : response.Headers.TryGetValues("Retry-After", out IEnumerable<string>? values)
                    ? ProviderErrorReader.ParseRetryAfter(values.FirstOrDefault(), milliseconds: false, now)
                    : null;
            if (hint is TimeSpan retryAfter)
            {
                hints.Record(httpClientName, status, retryAfter, now);
            }
        }

        ReadRateLimits(response.Headers, now, rateLimit);
        return response;
    }

    /// <summary>
    /// Reads the response's rate-limit headers into <paramref name="target"/>: the request limit, and of the token limits
    /// (Anthropic reports tokens, input tokens and output tokens apart) the one with the smallest share left. False when
    /// the response has none (the last report stands).
    /// </summary>
    internal static bool ReadRateLimits(HttpResponseHeaders headers, DateTimeOffset now, ReportedRateLimit target)
    {
        bool found = false;
        (long Limit, long Remaining, TimeSpan? Reset)? tokens = null;
        foreach ((string limitName, string remainingName, string resetName, bool requests) in OpenAILimits)
        {
            if (Number(headers, limitName) is long limit && Number(headers, remainingName) is long remaining)
            {
                found = true;
                Report(target, requests, limit, remaining, GoDuration(Value(headers, resetName)), ref tokens);
            }
        }

        foreach ((string limitName, string remainingName, string resetName, bool requests) in AnthropicLimits)
        {
            if (Number(headers, limitName) is long limit && Number(headers, remainingName) is long remaining)
            {
                found = true;
                TimeSpan? reset = DateTimeOffset.TryParse(Value(headers, resetName), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset at)
                    ? (at > now ? at - now : TimeSpan.Zero)
                    : null;
                Report(target, requests, limit, remaining, reset, ref tokens);
            }
        }

        if (tokens is { } t)
        {
            target.Tokens.Report(t.Limit, t.Remaining, t.Reset, target.Clock.Now());
        }

        return found;
    }

    private static void Report(ReportedRateLimit target, bool requests, long limit, long remaining, TimeSpan? reset, ref (long Limit, long Remaining, TimeSpan? Reset)? tokens)
    {
        if (requests)
        {
            target.Requests.Report(limit, remaining, reset, target.Clock.Now());
        }
        else if (limit > 0 && (tokens is not { } t || (double)remaining / limit < (double)t.Remaining / t.Limit))
        {
            tokens = (limit, remaining, reset);
        }
    }

    /// <summary>Parses a Go duration as OpenAI sends it ("20ms", "1.5s", "6m0s", "1h2m3s"); null when absent or malformed.</summary>
    internal static TimeSpan? GoDuration(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        double seconds = 0;
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            int unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.')
            {
                i++;
            }

            if (unitStart == start || !double.TryParse(text.AsSpan(start, unitStart - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
            {
                return null;
            }

            double? scale = text.AsSpan(unitStart, i - unitStart) switch
            {
                "h" => 3600,
                "m" => 60,
                "s" => 1,
                "ms" => 1e-3,
                "us" or "µs" => 1e-6,
                "ns" => 1e-9,
                _ => null,
            };
            if (scale is not double factor)
            {
                return null;
            }

            seconds += value * factor;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static string? Value(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault() : null;

    private static long? Number(HttpResponseHeaders headers, string name) =>
        long.TryParse(Value(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : null;
}
