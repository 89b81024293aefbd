namespace LlmRouter;

/// <summary>One attempt of a request: which deployment, on which route, how it ended and how long it took.</summary>
/// <param name="Deployment">The deployment's name.</param>
/// <param name="Route">The route the attempt was made for (the requested route or a fallback).</param>
/// <param name="Outcome">How the attempt ended.</param>
/// <param name="Duration">Time until the response (non-streaming) or first update (streaming), or until failure.</param>
/// <param name="FailureKind">The classification of a failure, if the attempt failed or timed out.</param>
/// <param name="StatusCode">The HTTP status of a failure, if one was found.</param>
/// <param name="Error">The failure's exception type name, if the attempt failed.</param>
public readonly record struct AttemptRecord(
    string Deployment,
    string Route,
    AttemptOutcome Outcome,
    TimeSpan Duration,
    FailureKind? FailureKind = null,
    int? StatusCode = null,
    string? Error = null);
