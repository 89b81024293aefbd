using Microsoft.Extensions.AI;

namespace LlmRouter.Pricing.Internal;

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
    public static decimal ToUsd(long nanos)
    {
        // Built from its parts with scale 9 (no decimal division, which is slow); long.MinValue has no positive twin.
        if (nanos == long.MinValue)
        {
            return (decimal)nanos / NanosPerUsd;
        }

        ulong magnitude = (ulong)Math.Abs(nanos);
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, nanos < 0, 9);
    }

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
    /// Cache writes (<c>AdditionalCounts["CacheCreationInputTokens"]</c>, as the Anthropic SDK reports them, also part of the
    /// input) cost <see cref="ModelPrice.CacheWritePerMillion"/>.
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
        long written = Math.Clamp(CacheWrites(usage), 0, input - cached);
        long output = Math.Max(usage.OutputTokenCount ?? 0, 0);

        decimal nanosPerMillion = ((input - cached - written) * price.InputPerMillion) + (cached * (price.CachedInputPerMillion ?? price.InputPerMillion))
            + (written * (price.CacheWritePerMillion ?? price.InputPerMillion));
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
    /// rounded up to a whole nano-USD: no input is assumed cached (every input token may be a cache write, so input is charged
    /// at the higher of the input and cache-write prices), and output is charged at the higher of the output and reasoning prices.
    /// </summary>
    public static long Of(ModelPrice price, long inputTokens, long outputTokens)
    {
        decimal outputPrice = Math.Max(price.OutputPerMillion, price.ReasoningPerMillion ?? 0);
        decimal inputPrice = Math.Max(price.InputPerMillion, price.CacheWritePerMillion ?? 0);
        decimal nanosPerMillion = (Math.Max(inputTokens, 0) * inputPrice) + (Math.Max(outputTokens, 0) * outputPrice);
        return Saturate(decimal.Ceiling(nanosPerMillion * NanosPerTokenPerUsdPerMillion));
    }

    /// <summary>The prompt-cache writes a usage reports (the Anthropic SDK's <c>AdditionalCounts["CacheCreationInputTokens"]</c>), part of its input tokens.</summary>
    public static long CacheWrites(UsageDetails usage) =>
        usage.AdditionalCounts is { Count: > 0 } counts && counts.TryGetValue(CacheCreationInputTokens, out long written) ? written : 0;

    /// <summary>The key of cache writes in <see cref="UsageDetails.AdditionalCounts"/>, as the Anthropic SDK reports them.</summary>
    public const string CacheCreationInputTokens = "CacheCreationInputTokens";

    private static long Saturate(decimal nanos) =>
        nanos >= long.MaxValue ? long.MaxValue : nanos <= long.MinValue ? long.MinValue : (long)nanos;
}

/// <summary>
/// A price in pico-dollars (1e-12 USD) per token, as integers: the hot path's form of <see cref="ModelPrice"/> (integer
/// multiply-adds instead of decimal arithmetic). Rounds each rate up to a whole pico-dollar, so it never under-charges
/// by more than a nano-dollar per thousand tokens.
/// </summary>
internal readonly struct TokenRates
{
    private const long PicosPerNano = 1_000;

    private TokenRates(long input, long cachedInput, long cacheWrite, long output, long reasoning)
    {
        Input = input;
        CachedInput = cachedInput;
        CacheWrite = cacheWrite;
        Output = output;
        Reasoning = reasoning;
    }

    public long Input { get; }

    public long CachedInput { get; }

    public long CacheWrite { get; }

    public long Output { get; }

    /// <summary>The reasoning rate, or -1 when reasoning tokens are billed as output.</summary>
    public long Reasoning { get; }

    public static TokenRates From(ModelPrice price)
    {
        // USD per million tokens x 1e12 pico / 1e6 tokens = x 1e6 pico per token.
        static long Picos(decimal perMillion) => (long)decimal.Ceiling(perMillion * 1_000_000m);
        long output = Picos(price.OutputPerMillion);
        long reasoning = price.ReasoningPerMillion is decimal r && r != price.OutputPerMillion ? Picos(r) : -1;
        return new TokenRates(
            Picos(price.InputPerMillion), Picos(price.CachedInputPerMillion ?? price.InputPerMillion), Picos(price.CacheWritePerMillion ?? price.InputPerMillion), output, reasoning);
    }

    /// <summary>The highest rates of two prices (the worst case of a route that may reach either).</summary>
    public static TokenRates Max(TokenRates a, TokenRates b) =>
        new(Math.Max(a.Input, b.Input), Math.Max(a.CachedInput, b.CachedInput), Math.Max(a.CacheWrite, b.CacheWrite), Math.Max(a.Output, b.Output), Math.Max(a.Reasoning, b.Reasoning));

    /// <summary>The worst-case cost in nano-dollars of a request: every input token uncached, every output token at the dearest output rate.</summary>
    public long WorstCase(long inputTokens, long outputTokens) =>
        CeilingNanos((Math.Max(inputTokens, 0) * Math.Max(Input, CacheWrite)) + (Math.Max(outputTokens, 0) * Math.Max(Output, Reasoning)));

    /// <summary>The cost in nano-dollars of reported usage, with the same rules as <see cref="Cost.Of(ModelPrice, UsageDetails)"/>.</summary>
    public long Of(UsageDetails usage)
    {
        long input = Math.Max(usage.InputTokenCount ?? 0, 0);
        long cached = Math.Clamp(usage.CachedInputTokenCount ?? 0, 0, input);
        long written = Math.Clamp(Cost.CacheWrites(usage), 0, input - cached);
        long output = Math.Max(usage.OutputTokenCount ?? 0, 0);
        long picos = ((input - cached - written) * Input) + (cached * CachedInput) + (written * CacheWrite);
        if (Reasoning >= 0)
        {
            long reasoning = Math.Clamp(usage.ReasoningTokenCount ?? 0, 0, output);
            picos += ((output - reasoning) * Output) + (reasoning * Reasoning);
        }
        else
        {
            picos += output * Output;
        }

        return CeilingNanos(picos);
    }

    private static long CeilingNanos(long picos) => picos <= 0 ? 0 : ((picos - 1) / PicosPerNano) + 1;
}
