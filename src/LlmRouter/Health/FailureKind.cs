namespace LlmRouter;

/// <summary>What a failed attempt means for the request and for the deployment's health.</summary>
public enum FailureKind
{
    /// <summary>The deployment had a passing problem (408, 5xx, connection error, timeout): fail over and count it against the deployment's circuit.</summary>
    Transient,

    /// <summary>The deployment is rate limited or overloaded (429, 529): fail over and cool the deployment down for Retry-After, or the default cooldown.</summary>
    RateLimited,

    /// <summary>The deployment cannot serve anyone (401, 403, 404: bad key, missing model): fail over and cool it down for long.</summary>
    Misconfigured,

    /// <summary>The prompt does not fit this deployment's context window: fail over only to deployments with a larger window; health is not affected.</summary>
    ContextWindowExceeded,

    /// <summary>The request itself is bad (400 and other 4xx) and would fail everywhere: stop, rethrow the error, health is not affected.</summary>
    InvalidRequest,

    /// <summary>
    /// The provider refused the request or the answer under its content policy (an error such as OpenAI's
    /// <c>content_filter</c>, or a response that finished with <see cref="Microsoft.Extensions.AI.ChatFinishReason.ContentFilter"/>).
    /// Goes to the route's <see cref="RouteOptions.ContentPolicyFallback"/> when it has one; otherwise the error reaches
    /// the caller unchanged, as an <see cref="InvalidRequest"/> does.
    /// </summary>
    ContentFiltered,
}
