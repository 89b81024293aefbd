using System.Globalization;
using LlmRouter.Pricing.Internal;

namespace LlmRouter;

/// <summary>
/// One spend counter as a <see cref="BudgetStore"/> sees it: a scope (or deployment) and one of its limits. Stores key
/// their counters by <see cref="Key"/> plus the start of the current window, so several processes share one counter.
/// Amounts are carried in nano-dollars (1e-9 USD) so stores can add them atomically as integers.
/// </summary>
public sealed class BudgetAccount
{
    internal BudgetAccount(string owner, BudgetLimit limit, bool isDeployment)
    {
        Owner = owner;
        Window = limit.Window;
        Limit = limit.LimitUsd;
        LimitNanos = Pricing.Internal.Cost.ToNanos(limit.LimitUsd);
        IsDeployment = isDeployment;
        Key = (isDeployment ? "deployment:" : "scope:") + owner + ":" + Window.ToString().ToLowerInvariant();
    }

    /// <summary>Gets the scope id or deployment name the account belongs to.</summary>
    public string Owner { get; }

    /// <summary>Gets whether the account is a deployment's rather than a scope's.</summary>
    public bool IsDeployment { get; }

    /// <summary>Gets the window the limit covers.</summary>
    public BudgetWindow Window { get; }

    /// <summary>Gets the limit in US dollars.</summary>
    public decimal Limit { get; }

    /// <summary>Gets the limit in nano-dollars.</summary>
    public long LimitNanos { get; }

    /// <summary>Gets the stable key of the account (without the window start), for example <c>scope:team:search:day</c>.</summary>
    public string Key { get; }

    /// <summary>The policy of the scope the account belongs to (null for deployments): its downgrade route.</summary>
    internal ScopePolicy? Policy { get; init; }

    /// <summary>Where a store caches its counter for this account (one store per account in practice).</summary>
    internal object? StoreSlot { get; set; }

    internal object? StoreSlotOwner { get; set; }

    /// <summary>Gets the start of the window that contains <paramref name="now"/>, in UTC.</summary>
    /// <param name="now">The time.</param>
    /// <returns>The window's start; <see cref="DateTimeOffset.MinValue"/> for <see cref="BudgetWindow.Total"/>.</returns>
    public DateTimeOffset WindowStart(DateTimeOffset now)
    {
        DateTime t = now.UtcDateTime;
        DateTime start = Window switch
        {
            BudgetWindow.Minute => new DateTime(t.Ticks - (t.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc),
            BudgetWindow.Hour => new DateTime(t.Ticks - (t.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc),
            BudgetWindow.Day => t.Date,
            BudgetWindow.Week => t.Date.AddDays(-(((int)t.DayOfWeek + 6) % 7)),
            BudgetWindow.Month => new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => DateTime.MinValue,
        };
        return new DateTimeOffset(DateTime.SpecifyKind(start, DateTimeKind.Utc));
    }

    /// <summary>Gets when the window that contains <paramref name="now"/> ends (the next reset), or <see langword="null"/> for <see cref="BudgetWindow.Total"/>.</summary>
    /// <param name="now">The time.</param>
    /// <returns>The reset time in UTC.</returns>
    public DateTimeOffset? WindowEnd(DateTimeOffset now)
    {
        DateTimeOffset start = WindowStart(now);
        return Window switch
        {
            BudgetWindow.Minute => start.AddMinutes(1),
            BudgetWindow.Hour => start.AddHours(1),
            BudgetWindow.Day => start.AddDays(1),
            BudgetWindow.Week => start.AddDays(7),
            BudgetWindow.Month => start.AddMonths(1),
            _ => null,
        };
    }

    /// <summary>Gets the key of the counter for the window containing <paramref name="now"/>: <see cref="Key"/> plus the window start.</summary>
    /// <param name="now">The time.</param>
    /// <returns>The counter key, for example <c>scope:team:search:day:20261125</c>.</returns>
    public string WindowKey(DateTimeOffset now) => Window == BudgetWindow.Total
        ? Key
        : Key + ":" + WindowStart(now).UtcDateTime.ToString(Window is BudgetWindow.Minute or BudgetWindow.Hour ? "yyyyMMddHHmm" : "yyyyMMdd", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"{Owner} ({Window}, ${Limit})";
}
