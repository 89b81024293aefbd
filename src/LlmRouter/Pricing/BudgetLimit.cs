namespace LlmRouter;

/// <summary>A spend limit in US dollars over a window, for a scope or a deployment.</summary>
public sealed class BudgetLimit
{
    /// <summary>Gets or sets the window the limit covers. Default: <see cref="BudgetWindow.Month"/>.</summary>
    public BudgetWindow Window { get; set; } = BudgetWindow.Month;

    /// <summary>Gets or sets the most that may be spent in one window, in US dollars. Must be positive. Required.</summary>
    public decimal LimitUsd { get; set; }
}
