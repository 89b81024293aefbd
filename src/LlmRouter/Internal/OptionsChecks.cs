namespace LlmRouter.Internal;

/// <summary>Checks and wording shared by the options validators of every feature.</summary>
internal static class OptionsChecks
{
    /// <summary>Reports <paramref name="key"/> when <paramref name="value"/> is set and not positive (or negative, with <paramref name="allowZero"/>).</summary>
    public static void CheckPositive(List<string> failures, string key, TimeSpan? value, bool allowZero = false)
    {
        if (value is TimeSpan t && (allowZero ? t < TimeSpan.Zero : t <= TimeSpan.Zero))
        {
            failures.Add($"{key} is {t}: it must be {(allowZero ? "zero or positive" : "positive")} (for example \"00:00:30\").");
        }
    }

    /// <summary>The longest a timer waits (<see cref="CancellationTokenSource"/>, <see cref="Task.Delay(TimeSpan, TimeProvider)"/>): 2^32 - 2 ms, about 49.7 days.</summary>
    public static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// Reports <paramref name="key"/> when <paramref name="value"/> is set and not a delay a timer can wait: not positive
    /// (negative, with <paramref name="allowZero"/>), or longer than <see cref="MaxTimerDelay"/>.
    /// </summary>
    public static void CheckTimerDelay(List<string> failures, string key, TimeSpan? value, bool allowZero = false)
    {
        if (value is TimeSpan t && (t > MaxTimerDelay || (allowZero ? t < TimeSpan.Zero : t <= TimeSpan.Zero)))
        {
            failures.Add($"{key} is {t}: it must be {(allowZero ? "zero or positive" : "positive")} and at most {MaxTimerDelay} (about 49.7 days, the longest a timer waits), or unset.");
        }
    }

    /// <summary>Lists names quoted and sorted, or "(none)".</summary>
    public static string Join(IEnumerable<string> names)
    {
        string joined = string.Join(", ", names.Order(StringComparer.OrdinalIgnoreCase).Select(n => $"'{n}'"));
        return joined.Length == 0 ? "(none)" : joined;
    }
}
