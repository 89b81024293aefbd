namespace LlmRouter;

/// <summary>Options of <see cref="RedisBudgetStore"/>.</summary>
public sealed class RedisBudgetStoreOptions
{
    /// <summary>
    /// Gets or sets the prefix of every key the store writes; the rest is the account's window key, for example
    /// <c>llmrouter:budget:scope:team:search:day:20261125</c>. Give applications that must not share budgets different
    /// prefixes. On a Redis Cluster, a prefix with a hash tag (for example <c>{llmrouter:budget}:</c>) keeps every key in
    /// one slot, which the store's multi-key scripts need. Default: <c>llmrouter:budget:</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = RedisBudgetStoreDefaults.KeyPrefix;

    /// <summary>
    /// Gets or sets how long a window's key outlives the window, so settles of requests still in flight when the window
    /// ends land in it. Keys of <see cref="BudgetWindow.Total"/> budgets never expire. Expiry is an absolute time taken from
    /// the application's clock, so the application's and Redis's clocks must agree to well within this grace.
    /// Default: 1 hour.
    /// </summary>
    public TimeSpan WindowKeyGrace { get; set; } = RedisBudgetStoreDefaults.WindowKeyGrace;
}
