using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace LlmRouter.Testing;

/// <summary>
/// Waits for something real and asynchronous to happen: a continuation on the thread pool, a server noticing an abort,
/// Redis coming back. Not for time: tests move time with a FakeTimeProvider. The timeout is a hang guard, not a speed
/// check; when it passes, the wait fails with the condition's text.
/// </summary>
public static class Eventually
{
    /// <summary>How long a condition may take to hold before the wait fails.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long to pause between checks by default.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>Checks <paramref name="condition"/> until it holds, pausing <paramref name="interval"/> between checks.</summary>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="timeout"/>.</exception>
    public static Task Until(
        Func<bool> condition, TimeSpan? timeout = null, TimeSpan? interval = null, [CallerArgumentExpression(nameof(condition))] string? expression = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return Until(() => Task.FromResult(condition()), timeout, interval, expression);
    }

    /// <summary>Checks <paramref name="condition"/> until it holds, pausing <paramref name="interval"/> between checks.</summary>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="timeout"/>.</exception>
    public static async Task Until(
        Func<Task<bool>> condition, TimeSpan? timeout = null, TimeSpan? interval = null, [CallerArgumentExpression(nameof(condition))] string? expression = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        TimeSpan limit = timeout ?? DefaultTimeout;
        long start = Stopwatch.GetTimestamp();
        int checks = 0;
        while (true)
        {
            checks++;
            if (await condition().ConfigureAwait(false))
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(start) >= limit)
            {
                throw new TimeoutException($"Eventually.Until: still false after {limit.TotalSeconds:0.###} s ({checks} checks): {expression}");
            }

            await Task.Delay(interval ?? DefaultInterval).ConfigureAwait(false);
        }
    }
}
