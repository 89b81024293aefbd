using System.Net;

namespace LlmRouter.Simulation;

/// <summary>
/// A provider error that carries the HTTP response, as SDKs that wrap <see cref="HttpClient"/> do: the status is on the
/// inner <see cref="HttpRequestException"/> and the Retry-After header on <see cref="Response"/>. The router reads both
/// (see <c>ProviderErrorReader</c>); <see cref="ProviderErrors.Verify"/> checks that it still does.
/// </summary>
public sealed class ProviderHttpException : Exception
{
    public ProviderHttpException(HttpResponseMessage response)
        : base($"Response status code does not indicate success: {(int)response.StatusCode}.", new HttpRequestException("provider error", null, response.StatusCode))
    {
        Response = response;
    }

    public ProviderHttpException()
        : this(new HttpResponseMessage(HttpStatusCode.InternalServerError))
    {
    }

    public ProviderHttpException(string message)
        : base(message)
    {
        Response = new HttpResponseMessage(HttpStatusCode.InternalServerError);
    }

    public ProviderHttpException(string message, Exception innerException)
        : base(message, innerException)
    {
        Response = new HttpResponseMessage(HttpStatusCode.InternalServerError);
    }

    /// <summary>Gets the provider's response (status and headers; no body).</summary>
    public HttpResponseMessage Response { get; }
}

/// <summary>The errors simulated providers fail with, shaped like real ones.</summary>
public static class ProviderErrors
{
    /// <summary>503 Service Unavailable as <see cref="HttpClient.SendAsync(HttpRequestMessage)"/> callers see it (no headers).</summary>
    public static HttpRequestException Unavailable() => new("Response status code does not indicate success: 503 (Service Unavailable).", null, HttpStatusCode.ServiceUnavailable);

    /// <summary>429 Too Many Requests with a Retry-After header in whole seconds.</summary>
    public static ProviderHttpException RateLimited(TimeSpan retryAfter)
    {
        var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds))));
        return new ProviderHttpException(response);
    }

    /// <summary>
    /// Checks that the router's failure classifier reads these errors as it reads real ones: 503 Transient, 429
    /// RateLimited with its Retry-After. Throws when it does not, so a classifier change cannot silently change results.
    /// </summary>
    public static void Verify()
    {
        var classifier = new FailureClassifier();
        FailureClassification unavailable = classifier.Classify(Unavailable());
        if (unavailable.Kind != FailureKind.Transient || unavailable.StatusCode != 503)
        {
            throw new InvalidOperationException($"A simulated 503 classifies as {unavailable}, not Transient/503.");
        }

        FailureClassification limited = classifier.Classify(RateLimited(TimeSpan.FromSeconds(3)));
        if (limited.Kind != FailureKind.RateLimited || limited.StatusCode != 429 || limited.RetryAfter != TimeSpan.FromSeconds(3))
        {
            throw new InvalidOperationException($"A simulated 429 with Retry-After: 3 classifies as {limited}, not RateLimited/429/3 s.");
        }
    }
}
