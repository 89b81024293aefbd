namespace LlmRouter.Simulator;

/// <summary>A failure a simulated provider can inject into a response.</summary>
public enum FaultKind
{
    /// <summary>No fault: a normal response.</summary>
    None,

    /// <summary>429 with a Retry-After header (<see cref="ProviderProfile.RetryAfter"/>).</summary>
    RateLimited,

    /// <summary>500 internal error.</summary>
    ServerError,

    /// <summary>503 service unavailable.</summary>
    Unavailable,

    /// <summary>529 overloaded (Anthropic's <c>overloaded_error</c>; the same status for OpenAI-compatible providers).</summary>
    Overloaded,

    /// <summary>400 context length exceeded, in the vendor's own wording. Also produced when the prompt exceeds <see cref="ProviderProfile.ContextWindow"/>.</summary>
    ContextLengthExceeded,

    /// <summary>401 invalid API key.</summary>
    Unauthorized,

    /// <summary>No response at all until the client gives up (the request's abort is recorded).</summary>
    Hang,

    /// <summary>The connection is reset before any response.</summary>
    ConnectionReset,

    /// <summary>A streaming response aborts after <see cref="ProviderProfile.StreamDropAfterChunks"/> chunks (0: before the first). Non-streaming requests get a reset.</summary>
    StreamDrop,

    /// <summary>200 with a body that is not valid JSON.</summary>
    MalformedJson,
}
