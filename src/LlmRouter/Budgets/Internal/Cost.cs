using Microsoft.Extensions.AI;

namespace LlmRouter.Budgets.Internal;

/// <summary>
/// Cost arithmetic. Money is carried as <see langword="long"/> nano-USD (1e-9 USD) so ledgers can add it with
/// <see cref="Interlocked"/>; a long holds about 9.2 billion USD. Every conversion rounds up: a budget is never
/// under-charged by rounding.
/// </summary>
internal static class Cost
{
    /// <summary>Nano-USD in one US dollar.</summary>
    public const long NanosPerUsd = 1_000_000_000;

    // Prices are USD per million tokens, so one token at price p costs p * 1e9 / 1e6 = p * 1000 nano-USD.
    private const decimal NanosPerTokenPerUsdPerMillion = NanosPerUsd / 1_000_000;

    // Beyond this many dollars the nano-USD amount no longer fits a long (and usd * 1e9 could overflow a decimal).
    private const decimal MaxUsd = long.MaxValue / (decimal)NanosPerUsd;

    /// <summary>Converts US dollars to nano-USD, rounding up to the next whole nano-USD and saturating at the range of a long.</summary>
    public static long ToNanos(decimal usd) =>
        usd >= MaxUsd ? long.MaxValue : usd <= -MaxUsd ? long.MinValue : Saturate(decimal.Ceiling(usd * NanosPerUsd));

    /// <summary>Converts nano-USD to US dollars, exactly.</summary>
    public static decimal ToUsd(long nanos) => (decimal)nanos / NanosPerUsd;

    /// <summary>
    /// The cost of a response's reported usage, rounded up to a whole nano-USD; missing counts are 0.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Input: <see cref="UsageDetails.CachedInputTokenCount"/> is taken as part of <see cref="UsageDetails.InputTokenCount"/>
    /// (as OpenAI and M.E.AI report it): the cached tokens cost <see cref="ModelPrice.CachedInputPerMillion"/>, the rest
    /// <see cref="ModelPrice.InputPerMillion"/>.
    /// </para>
    /// <para>
    /// Output: <see cref="UsageDetails.ReasoningTokenCount"/> is taken as part of <see cref="UsageDetails.OutputTokenCount"/>
    /// (as OpenAI reports it). Only when <see cref="ModelPrice.ReasoningPerMillion"/> is set and differs from
    /// <see cref="ModelPrice.OutputPerMillion"/> are the reasoning tokens charged at that price and the rest of the output
    /// at the output price; otherwise all output tokens cost the output price.
    /// </para>
    /// <para>A part larger than its whole (cached over input, reasoning over output) is clamped to the whole.</para>
    /// </remarks>
    public static long Of(ModelPrice price, UsageDetails usage)
    {
        long input = Math.Max(usage.InputTokenCount ?? 0, 0);
        long cached = Math.Clamp(usage.CachedInputTokenCount ?? 0, 0, input);
        long output = Math.Max(usage.OutputTokenCount ?? 0, 0);

        decimal nanosPerMillion = ((input - cached) * price.InputPerMillion) + (cached * (price.CachedInputPerMillion ?? price.InputPerMillion));
        if (price.ReasoningPerMillion is decimal reasoningPrice && reasoningPrice != price.OutputPerMillion)
        {
            long reasoning = Math.Clamp(usage.ReasoningTokenCount ?? 0, 0, output);
            nanosPerMillion += ((output - reasoning) * price.OutputPerMillion) + (reasoning * reasoningPrice);
        }
        else
        {
            nanosPerMillion += output * price.OutputPerMillion;
        }

        return Saturate(decimal.Ceiling(nanosPerMillion * NanosPerTokenPerUsdPerMillion));
    }

    /// <summary>
    /// The worst-case cost of a request estimated at <paramref name="inputTokens"/> in and <paramref name="outputTokens"/> out,
    /// rounded up to a whole nano-USD: no input is assumed cached, and output is charged at the higher of the output and
    /// reasoning prices.
    /// </summary>
    public static long Of(ModelPrice price, long inputTokens, long outputTokens)
    {
        decimal outputPrice = Math.Max(price.OutputPerMillion, price.ReasoningPerMillion ?? 0);
        decimal nanosPerMillion = (Math.Max(inputTokens, 0) * price.InputPerMillion) + (Math.Max(outputTokens, 0) * outputPrice);
        return Saturate(decimal.Ceiling(nanosPerMillion * NanosPerTokenPerUsdPerMillion));
    }

    private static long Saturate(decimal nanos) =>
        nanos >= long.MaxValue ? long.MaxValue : nanos <= long.MinValue ? long.MinValue : (long)nanos;
}
