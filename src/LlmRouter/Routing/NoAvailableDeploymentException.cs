using System.Diagnostics;
using System.Globalization;
using LlmRouter.Telemetry;
namespace LlmRouter;

/// <summary>Thrown before any provider call when no deployment of the route (or its fallbacks) can be attempted.</summary>
public sealed class NoAvailableDeploymentException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="reason">Why nothing could be attempted.</param>
    /// <param name="availableAt">When the first matching deployment is back, for <see cref="NoAvailableDeploymentReason.AllUnavailable"/>.</param>
    /// <param name="unavailableDeployments">The matching deployments that are cooling down or open.</param>
    public NoAvailableDeploymentException(string route, NoAvailableDeploymentReason reason, DateTimeOffset? availableAt, IReadOnlyList<string> unavailableDeployments)
        : base(route, BuildMessage(route, reason, availableAt, unavailableDeployments))
    {
        Reason = reason;
        AvailableAt = availableAt;
        UnavailableDeployments = unavailableDeployments;
    }

    /// <summary>For <see cref="NoAvailableDeploymentReason.ContextWindowTooSmall"/>: the message says how much context the request needs.</summary>
    internal NoAvailableDeploymentException(string route, long requiredContext)
        : base(route, $"The request needs at least {requiredContext.ToString("N0", CultureInfo.InvariantCulture)} tokens of context (its prompt, counted with the o200k tokenizer, plus its MaxOutputTokens): {TooSmall(route)}")
    {
        Reason = NoAvailableDeploymentReason.ContextWindowTooSmall;
        UnavailableDeployments = [];
    }

    /// <summary>Gets why nothing could be attempted.</summary>
    public NoAvailableDeploymentReason Reason { get; }

    /// <summary>Gets when the first matching deployment becomes available again, if known.</summary>
    public DateTimeOffset? AvailableAt { get; }

    /// <summary>Gets the matching deployments that are cooling down or have an open circuit.</summary>
    public IReadOnlyList<string> UnavailableDeployments { get; }

    private static string BuildMessage(string route, NoAvailableDeploymentReason reason, DateTimeOffset? availableAt, IReadOnlyList<string> unavailable)
    {
        ArgumentNullException.ThrowIfNull(unavailable);
        return reason switch
        {
            NoAvailableDeploymentReason.NoneMatchConstraints => $"No deployment of route '{route}' or its fallbacks satisfies the request's constraints (regions, zero data retention, tags).",
            NoAvailableDeploymentReason.DeploymentBudgetsExhausted => $"Every deployment of route '{route}' and its fallbacks that satisfies the request has exhausted its own budget (DeploymentOptions.Budgets); they return when their budget windows reset.",
            NoAvailableDeploymentReason.ContextWindowTooSmall => $"The request's prompt plus its MaxOutputTokens is {TooSmall(route)}",
            _ => $"Every deployment of route '{route}' and its fallbacks that satisfies the request is cooling down or has an open circuit"
                + (unavailable.Count > 0 ? $" ({string.Join(", ", unavailable)})" : string.Empty)
                + (availableAt is { } at ? $"; the first is available again at {at:O}." : "."),
        };
    }

    private static string TooSmall(string route) =>
        $"more than the context window of every deployment of route '{route}' and its fallbacks that satisfies the request. Nothing was sent; shorten the prompt, lower MaxOutputTokens, or add a deployment with a larger ContextWindow.";

    /// <inheritdoc />
    internal override void TagSpan(Activity span)
    {
        span.SetTag(RouterTelemetry.Tags.NoDeploymentReason, RouterTelemetry.Name(Reason));
    }
}
