using System.Diagnostics;
using LlmRouter.Telemetry;
namespace LlmRouter;

/// <summary>Thrown before any provider call when a budget of the request's scope path cannot cover its worst-case cost.</summary>
public sealed class BudgetExceededException : LlmRouterException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="scope">The scope (or deployment) whose budget is exhausted.</param>
    /// <param name="window">The budget's window.</param>
    /// <param name="limitUsd">The limit.</param>
    /// <param name="spentUsd">Spent in the window so far, including reservations of requests in flight.</param>
    /// <param name="requestedUsd">The request's worst-case cost.</param>
    /// <param name="resetsAt">When the window resets, or <see langword="null"/> for a total budget.</param>
    public BudgetExceededException(string route, string scope, BudgetWindow window, decimal limitUsd, decimal spentUsd, decimal requestedUsd, DateTimeOffset? resetsAt)
        : base(route, $"The {window.ToString().ToLowerInvariant()} budget of '{scope}' (${limitUsd}) cannot cover this request: ${spentUsd:0.######} spent or reserved, ${requestedUsd:0.######} requested"
            + (resetsAt is { } r ? $"; it resets at {r:O}." : "; it never resets."))
    {
        Scope = scope;
        Window = window;
        LimitUsd = limitUsd;
        SpentUsd = spentUsd;
        RequestedUsd = requestedUsd;
        ResetsAt = resetsAt;
    }

    /// <summary>Gets the scope id whose budget is exhausted.</summary>
    public string Scope { get; }

    /// <summary>Gets the budget's window.</summary>
    public BudgetWindow Window { get; }

    /// <summary>Gets the limit in US dollars.</summary>
    public decimal LimitUsd { get; }

    /// <summary>Gets what was spent or reserved in the window when the request arrived, in US dollars.</summary>
    public decimal SpentUsd { get; }

    /// <summary>Gets the request's worst-case cost in US dollars.</summary>
    public decimal RequestedUsd { get; }

    /// <summary>Gets when the window resets, or <see langword="null"/> for a total budget.</summary>
    public DateTimeOffset? ResetsAt { get; }

    /// <inheritdoc />
    internal override void TagSpan(Activity span)
    {
        span.SetTag(RouterTelemetry.Tags.Scope, Scope);
        span.SetTag(RouterTelemetry.Tags.BudgetWindowName, Window.ToString());
    }
}
