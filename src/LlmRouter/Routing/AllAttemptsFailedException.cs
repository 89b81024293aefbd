using System.Diagnostics;
using LlmRouter.Telemetry;
namespace LlmRouter;

/// <summary>
/// Thrown when every attempt the request was allowed failed over (or the route and its fallbacks ran out of deployments).
/// <see cref="Exception.InnerException"/> is the last attempt's error.
/// </summary>
public sealed class AllAttemptsFailedException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="attempts">The attempts made, in order.</param>
    /// <param name="lastError">The last attempt's error.</param>
    public AllAttemptsFailedException(string route, IReadOnlyList<AttemptRecord> attempts, Exception lastError)
        : base(route, BuildMessage(route, attempts), lastError)
    {
        Attempts = attempts;
    }

    /// <summary>Gets the attempts made, in order.</summary>
    public IReadOnlyList<AttemptRecord> Attempts { get; }

    private static string BuildMessage(string route, IReadOnlyList<AttemptRecord> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        return $"All {attempts.Count} attempt(s) for route '{route}' failed: " + string.Join("; ", attempts.Select(a =>
            $"{a.Deployment} ({a.Route}) {a.Outcome}{(a.StatusCode is int s ? $" {s}" : string.Empty)}{(a.FailureKind is FailureKind k ? $" {k}" : string.Empty)}")) + ".";
    }

    /// <inheritdoc />
    internal override void TagSpan(Activity span)
    {
        span.SetTag(RouterTelemetry.Tags.AttemptCount, Attempts.Count);
    }
}
