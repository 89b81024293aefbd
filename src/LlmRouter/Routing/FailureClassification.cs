namespace LlmRouter;

/// <summary>The verdict on one failed attempt.</summary>
/// <param name="Kind">What the failure means for the request and the deployment.</param>
/// <param name="StatusCode">The HTTP status the provider returned, when one was found in the exception.</param>
/// <param name="RetryAfter">The provider's Retry-After hint, when one was found.</param>
public readonly record struct FailureClassification(FailureKind Kind, int? StatusCode = null, TimeSpan? RetryAfter = null);
