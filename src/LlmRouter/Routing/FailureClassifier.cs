using System.Net.Http;
using LlmRouter.Providers.Internal;
using LlmRouter.Routing.Internal;

namespace LlmRouter;

/// <summary>
/// The one table that decides what a failed attempt means: fail over, cool the deployment down, or stop.
/// Status codes are read from <see cref="HttpRequestException.StatusCode"/>, from <c>System.ClientModel.ClientResultException.Status</c>
/// (OpenAI and Azure SDKs) and from the Anthropic SDK's exceptions, without depending on any vendor SDK.
/// </summary>
/// <remarks>
/// Rules, in order: an <see cref="InvalidRequest"/>-class status whose message says the context window was exceeded is
/// <see cref="FailureKind.ContextWindowExceeded"/>, one whose message names a content policy is
/// <see cref="FailureKind.ContentFiltered"/>; a status in <see cref="StatusCodes"/> maps as listed; any other 4xx is
/// <see cref="FailureKind.InvalidRequest"/>; anything else (5xx, connection errors, timeouts, malformed responses, unknown
/// exceptions) is <see cref="FailureKind.Transient"/>. See docs/routing.md for the full table.
/// </remarks>
public class FailureClassifier
{
    private const FailureKind InvalidRequest = FailureKind.InvalidRequest;

    /// <summary>
    /// Gets the status codes with an explicit verdict. Defaults: 400, 422 → InvalidRequest; 401, 403, 404 → Misconfigured;
    /// 408, 409, 425, 500, 502, 503, 504 → Transient; 413 → ContextWindowExceeded; 429, 529 → RateLimited.
    /// </summary>
    public IDictionary<int, FailureKind> StatusCodes { get; } = new Dictionary<int, FailureKind>
    {
        [400] = FailureKind.InvalidRequest,
        [401] = FailureKind.Misconfigured,
        [403] = FailureKind.Misconfigured,
        [404] = FailureKind.Misconfigured,
        [408] = FailureKind.Transient,
        [409] = FailureKind.Transient,
        [413] = FailureKind.ContextWindowExceeded,
        [422] = FailureKind.InvalidRequest,
        [425] = FailureKind.Transient,
        [429] = FailureKind.RateLimited,
        [500] = FailureKind.Transient,
        [502] = FailureKind.Transient,
        [503] = FailureKind.Transient,
        [504] = FailureKind.Transient,
        [529] = FailureKind.RateLimited,
    };

    /// <summary>
    /// Gets the phrases (matched case-insensitively in the exception messages) that mark a 4xx as a context-window overflow.
    /// Defaults cover OpenAI ("context_length_exceeded", "maximum context length"), Anthropic ("prompt is too long"),
    /// and common OpenAI-compatible hosts.
    /// </summary>
    public IList<string> ContextWindowExceededMarkers { get; } =
    [
        "context_length_exceeded",
        "maximum context length",
        "prompt is too long",
        "context window",
        "too many tokens",
        "input is too long",
    ];

    /// <summary>
    /// Gets the phrases (matched case-insensitively in the exception messages) that mark a 4xx as a content-policy refusal
    /// (<see cref="FailureKind.ContentFiltered"/>). Defaults cover OpenAI and Azure OpenAI ("content_filter",
    /// "content_policy_violation", "content management policy") and common phrasings of other hosts.
    /// </summary>
    public IList<string> ContentFilteredMarkers { get; } =
    [
        "content_filter",
        "content_policy_violation",
        "content management policy",
        "content policy",
        "responsibleaipolicyviolation",
    ];

    /// <summary>Gets or sets the clock used to turn an HTTP-date Retry-After into a duration. The router sets its own.</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Classifies a failed attempt. The caller's own cancellation never reaches this method.</summary>
    /// <param name="exception">The exception the provider client threw.</param>
    /// <returns>The verdict, with the status code and Retry-After hint when they could be read.</returns>
    public virtual FailureClassification Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);

        ProviderError error = ProviderErrorReader.Read(exception, TimeProvider);
        if (error.StatusCode is not int status)
        {
            // No status: connection errors, timeouts, malformed responses, unknown exceptions. A context overflow reported
            // without a status (some clients wrap it) is still recognised by its message.
            return new(MentionsContextWindow(exception) ? FailureKind.ContextWindowExceeded : FailureKind.Transient, null, error.RetryAfter);
        }

        FailureKind kind = StatusCodes.TryGetValue(status, out FailureKind mapped)
            ? mapped
            : status is >= 400 and < 500 ? InvalidRequest : FailureKind.Transient;

        if (kind == InvalidRequest && MentionsContextWindow(exception))
        {
            kind = FailureKind.ContextWindowExceeded;
        }
        else if (kind == InvalidRequest && Mentions(exception, ContentFilteredMarkers))
        {
            kind = FailureKind.ContentFiltered;
        }

        return new(kind, status, error.RetryAfter);
    }

    private bool MentionsContextWindow(Exception exception) => Mentions(exception, ContextWindowExceededMarkers);

    private static bool Mentions(Exception exception, IList<string> markers)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            string message = e.Message;
            foreach (string marker in markers)
            {
                if (message.Contains(marker, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
