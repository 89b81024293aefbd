using Microsoft.Extensions.Logging;

namespace LlmRouter.Routing.Internal;

/// <summary>Source-generated log messages. Never logs prompts, responses, keys or headers.</summary>
internal static partial class RoutingLog
{
    [LoggerMessage(1, LogLevel.Warning, "Attempt {Attempt} on deployment '{Deployment}' (route '{Route}') failed: {Kind} {StatusCode} ({ErrorType}); failing over.")]
    public static partial void AttemptFailedOver(ILogger logger, int attempt, string deployment, string route, FailureKind kind, int? statusCode, string errorType);

    [LoggerMessage(2, LogLevel.Information, "Attempt {Attempt} on deployment '{Deployment}' (route '{Route}') failed with {Kind} {StatusCode} ({ErrorType}); not failing over.")]
    public static partial void AttemptFailedStop(ILogger logger, int attempt, string deployment, string route, FailureKind kind, int? statusCode, string errorType);

    [LoggerMessage(3, LogLevel.Warning, "Attempt {Attempt} on deployment '{Deployment}' (route '{Route}') timed out after {Timeout}; failing over.")]
    public static partial void AttemptTimedOut(ILogger logger, int attempt, string deployment, string route, TimeSpan timeout);

    [LoggerMessage(4, LogLevel.Warning, "Deployment '{Deployment}' cools down until {Until:O} after {Kind} {StatusCode}.")]
    public static partial void CooledDown(ILogger logger, string deployment, DateTimeOffset until, FailureKind kind, int? statusCode);

    [LoggerMessage(5, LogLevel.Warning, "Circuit of deployment '{Deployment}' opened after {ConsecutiveFailures} consecutive failure(s); next probe after {BreakDuration}.")]
    public static partial void CircuitOpened(ILogger logger, string deployment, int consecutiveFailures, TimeSpan breakDuration);

    [LoggerMessage(6, LogLevel.Information, "Circuit of deployment '{Deployment}' closed: the probe succeeded.")]
    public static partial void CircuitClosed(ILogger logger, string deployment);

    [LoggerMessage(7, LogLevel.Warning, "Stream from deployment '{Deployment}' (route '{Route}') failed after its first update ({ErrorType}); the error propagates to the caller.")]
    public static partial void StreamFailedAfterFirstUpdate(ILogger logger, string deployment, string route, string errorType);

    [LoggerMessage(8, LogLevel.Warning, "No deployment of route '{Route}' is available; attempting '{Deployment}', the least recently failed, as a last resort.")]
    public static partial void LastResortAttempt(ILogger logger, string route, string deployment);

    [LoggerMessage(9, LogLevel.Debug, "Deployment '{Deployment}' ranks last until {Until:O} after a sporadic {StatusCode}; it stays available.")]
    public static partial void Throttled(ILogger logger, string deployment, DateTimeOffset until, int? statusCode);
}
