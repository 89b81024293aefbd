namespace LlmRouter;

/// <summary>Every default of the budget layer in one place; option docs quote these values.</summary>
internal static class BudgetDefaults
{
    public const int DefaultMaxOutputTokens = 4096;

    /// <summary>Sliding-window segments per minute of the per-scope rate limiters.</summary>
    public const int RateLimitSegments = 6;

    /// <summary>How often, while the store is known to be down, a background read checks whether it is back.</summary>
    public static readonly TimeSpan LedgerProbeInterval = TimeSpan.FromSeconds(5);
}
