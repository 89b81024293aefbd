namespace LlmRouter;

/// <summary>How a request ended, as the audit records it.</summary>
public enum AuditDecision
{
    /// <summary>A provider answered; its cost was settled.</summary>
    Served,

    /// <summary>Answered from the response cache: no provider call, no cost.</summary>
    CacheHit,

    /// <summary>Rejected before any provider call: a budget, policy or rate limit (see <see cref="AuditRecord.Reason"/>).</summary>
    Denied,

    /// <summary>Sent, but every attempt failed; the reservation was released.</summary>
    Failed,

    /// <summary>A stream the caller stopped reading, or that broke, before its end; what was produced was settled as an estimate.</summary>
    Abandoned,
}
