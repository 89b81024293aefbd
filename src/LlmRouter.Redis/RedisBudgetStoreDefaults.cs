namespace LlmRouter;

/// <summary>Every default of <see cref="RedisBudgetStore"/> in one place; option docs quote these values.</summary>
internal static class RedisBudgetStoreDefaults
{
    public const string KeyPrefix = "llmrouter:budget:";

    public static readonly TimeSpan WindowKeyGrace = TimeSpan.FromHours(1);
}
