using System.Diagnostics;
using LlmRouter.Telemetry;
namespace LlmRouter;

/// <summary>Thrown before any provider call when a request breaks a rule of a scope on its path (allow-lists, regions, rate limits).</summary>
public sealed class PolicyViolationException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="scope">The scope whose policy denied the request.</param>
    /// <param name="violation">The rule that was broken.</param>
    /// <param name="detail">What was asked and what is allowed.</param>
    /// <param name="retryAfter">For rate limits: when to retry, if known.</param>
    public PolicyViolationException(string route, string scope, PolicyViolation violation, string detail, TimeSpan? retryAfter = null)
        : base(route, $"Scope '{scope}' does not allow this request ({violation}): {detail}")
    {
        Scope = scope;
        Violation = violation;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the scope whose policy denied the request.</summary>
    public string Scope { get; }

    /// <summary>Gets the rule that was broken.</summary>
    public PolicyViolation Violation { get; }

    /// <summary>Gets, for rate limits, how long to wait before retrying.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <inheritdoc />
    internal override void TagSpan(Activity span)
    {
        span.SetTag(RouterTelemetry.Tags.Scope, Scope);
        span.SetTag(RouterTelemetry.Tags.Reason, RouterTelemetry.Name(Violation));
    }
}
