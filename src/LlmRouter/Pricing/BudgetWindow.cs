namespace LlmRouter;

/// <summary>The period a budget limit covers. Windows are aligned in UTC: a Day budget resets at 00:00 UTC.</summary>
public enum BudgetWindow
{
    /// <summary>Each UTC minute.</summary>
    Minute,

    /// <summary>Each UTC hour.</summary>
    Hour,

    /// <summary>Each UTC day, from 00:00.</summary>
    Day,

    /// <summary>Each ISO week, from Monday 00:00 UTC.</summary>
    Week,

    /// <summary>Each calendar month, from the first day 00:00 UTC.</summary>
    Month,

    /// <summary>All time: the budget never resets.</summary>
    Total,
}
