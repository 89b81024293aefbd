using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>What happened to one request, for the audit sink (<see cref="IAuditSink"/>). Written once per request.</summary>
public sealed class AuditRecord
{
    /// <summary>Gets when the request arrived (UTC).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets who asked, or <see langword="null"/> for an unscoped request.</summary>
    public ScopePath? ScopePath { get; init; }

    /// <summary>Gets the route (or model id) the request named; the route actually used may differ after a downgrade (<see cref="ServedRoute"/>).</summary>
    public required string Route { get; init; }

    /// <summary>Gets the route that served the request (a fallback or downgrade route), if one did.</summary>
    public string? ServedRoute { get; init; }

    /// <summary>Gets the deployment that served the request, or for a request whose every attempt failed the last one tried.</summary>
    public string? Deployment { get; init; }

    /// <summary>Gets the number of provider attempts made (0 for denials and cache hits).</summary>
    public int Attempts { get; init; }

    /// <summary>Gets whether the request was streamed.</summary>
    public bool Streaming { get; init; }

    /// <summary>Gets the input tokens, as reported by the provider or estimated.</summary>
    public long InputTokens { get; init; }

    /// <summary>Gets the output tokens, as reported by the provider or estimated.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Gets the cost in US dollars (0 for denials, failures and cache hits).</summary>
    public decimal CostUsd { get; init; }

    /// <summary>Gets whether the cost was estimated (the provider reported no usage) rather than computed from reported usage.</summary>
    public bool CostEstimated { get; init; }

    /// <summary>Gets, for a cache hit, what the answer cost when it was produced: the saving.</summary>
    public decimal CostSavedUsd { get; init; }

    /// <summary>Gets how the request ended.</summary>
    public required AuditDecision Decision { get; init; }

    /// <summary>Gets why it was denied or failed (the exception message), if it was.</summary>
    public string? Reason { get; init; }

    /// <summary>Gets the prompt, only when <see cref="BudgetOptions.AuditContent"/> is on and the request is not zero-data-retention.</summary>
    public IReadOnlyList<ChatMessage>? Prompt { get; init; }

    /// <summary>Gets the answer's text, only when <see cref="BudgetOptions.AuditContent"/> is on and the request is not zero-data-retention.</summary>
    public string? ResponseText { get; init; }
}
