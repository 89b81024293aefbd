using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Budgets;

public class CostTests
{
    private static readonly ModelPrice Mini = new() { InputPerMillion = 0.15m, OutputPerMillion = 0.60m, CachedInputPerMillion = 0.075m };

    [Theory]
    [InlineData("1", 1_000_000_000L)]
    [InlineData("0", 0L)]
    [InlineData("0.000000001", 1L)]
    [InlineData("0.0000000001", 1L)]
    [InlineData("0.0000000015", 2L)]
    [InlineData("0.000000002", 2L)]
    [InlineData("12.3456789012", 12_345_678_902L)]
    [InlineData("-0.0000000015", -1L)]
    public void ToNanos_rounds_up_to_a_whole_nano_dollar(string usd, long expected)
    {
        Assert.Equal(expected, Cost.ToNanos(decimal.Parse(usd, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void ToNanos_saturates_instead_of_overflowing()
    {
        Assert.Equal(long.MaxValue, Cost.ToNanos(decimal.MaxValue));
        Assert.Equal(long.MinValue, Cost.ToNanos(decimal.MinValue));
        Assert.Equal(long.MaxValue, Cost.ToNanos(10_000_000_000m));
    }

    [Fact]
    public void ToUsd_is_exact_and_inverts_ToNanos()
    {
        Assert.Equal(0.000000001m, Cost.ToUsd(1));
        Assert.Equal(1.5m, Cost.ToUsd(1_500_000_000));
        Assert.Equal(12.345678901m, Cost.ToUsd(Cost.ToNanos(12.345678901m)));
        Assert.Equal(1_000_000_000L, Cost.NanosPerUsd);
    }

    [Fact]
    public void Cached_input_is_charged_at_the_cached_price()
    {
        var usage = new UsageDetails { InputTokenCount = 1_000, CachedInputTokenCount = 400, OutputTokenCount = 500 };

        // 600 x 150 + 400 x 75 + 500 x 600 nano-USD per token.
        Assert.Equal(90_000 + 30_000 + 300_000, Cost.Of(Mini, usage));
    }

    [Fact]
    public void Cached_input_without_a_cached_price_costs_the_input_price()
    {
        var price = new ModelPrice { InputPerMillion = 3m, OutputPerMillion = 15m };
        var usage = new UsageDetails { InputTokenCount = 2_000, CachedInputTokenCount = 1_500, OutputTokenCount = 100 };

        Assert.Equal((2_000 * 3_000) + (100 * 15_000), Cost.Of(price, usage));
    }

    [Fact]
    public void Reasoning_tokens_are_charged_at_their_own_price_when_it_differs()
    {
        var price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 4m, ReasoningPerMillion = 10m };
        var usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 300, ReasoningTokenCount = 200 };

        // 100 x 1000 input + (300 - 200) x 4000 output + 200 x 10000 reasoning.
        Assert.Equal(100_000 + 400_000 + 2_000_000, Cost.Of(price, usage));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("4")]
    public void Reasoning_tokens_are_output_when_no_different_price_is_set(string? reasoningPrice)
    {
        var price = new ModelPrice
        {
            InputPerMillion = 1m,
            OutputPerMillion = 4m,
            ReasoningPerMillion = reasoningPrice is null ? null : decimal.Parse(reasoningPrice, System.Globalization.CultureInfo.InvariantCulture),
        };
        var usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 300, ReasoningTokenCount = 200 };

        Assert.Equal(100_000 + 1_200_000, Cost.Of(price, usage));
    }

    [Fact]
    public void Cached_and_reasoning_tokens_together()
    {
        // An o4-mini-like price with a made-up reasoning price.
        var price = new ModelPrice { InputPerMillion = 1.10m, OutputPerMillion = 4.40m, CachedInputPerMillion = 0.275m, ReasoningPerMillion = 5m };
        var usage = new UsageDetails
        {
            InputTokenCount = 12_345,
            CachedInputTokenCount = 10_000,
            OutputTokenCount = 4_321,
            ReasoningTokenCount = 4_000,
            TotalTokenCount = 16_666,
        };

        // 2,345 x 1,100 + 10,000 x 275 + 321 x 4,400 + 4,000 x 5,000 nano-USD.
        Assert.Equal(2_579_500 + 2_750_000 + 1_412_400 + 20_000_000, Cost.Of(price, usage));
    }

    [Fact]
    public void Fractions_of_a_nano_dollar_round_up()
    {
        var price = new ModelPrice { InputPerMillion = 0.0001m, OutputPerMillion = 0.0003m };

        // 3 x 0.1 = 0.3 -> 1; 15 x 0.1 = 1.5 -> 2; 15 x 0.1 + 1 x 0.3 = 1.8 -> 2 (rounded once, on the total).
        Assert.Equal(1, Cost.Of(price, new UsageDetails { InputTokenCount = 3 }));
        Assert.Equal(2, Cost.Of(price, new UsageDetails { InputTokenCount = 15 }));
        Assert.Equal(2, Cost.Of(price, new UsageDetails { InputTokenCount = 15, OutputTokenCount = 1 }));
        Assert.Equal(1, Cost.Of(price, 3, 0));
    }

    [Fact]
    public void Missing_counts_cost_nothing()
    {
        Assert.Equal(0, Cost.Of(Mini, new UsageDetails()));
        Assert.Equal(150, Cost.Of(Mini, new UsageDetails { InputTokenCount = 1, CachedInputTokenCount = null }));
        Assert.Equal(600, Cost.Of(Mini, new UsageDetails { OutputTokenCount = 1 }));
    }

    [Fact]
    public void A_part_larger_than_its_whole_is_clamped()
    {
        var price = new ModelPrice { InputPerMillion = 2m, OutputPerMillion = 8m, CachedInputPerMillion = 0.5m, ReasoningPerMillion = 16m };
        var usage = new UsageDetails { InputTokenCount = 10, CachedInputTokenCount = 50, OutputTokenCount = 20, ReasoningTokenCount = 90 };

        Assert.Equal((10 * 500) + (20 * 16_000), Cost.Of(price, usage));
    }

    [Fact]
    public void The_estimate_charges_input_uncached_and_output_at_the_higher_price()
    {
        Assert.Equal((1_000 * 150) + (500 * 600), Cost.Of(Mini, 1_000, 500));

        var reasoningDearer = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 4m, ReasoningPerMillion = 10m };
        Assert.Equal((100 * 1_000) + (50 * 10_000), Cost.Of(reasoningDearer, 100, 50));

        var reasoningCheaper = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 4m, ReasoningPerMillion = 2m };
        Assert.Equal((100 * 1_000) + (50 * 4_000), Cost.Of(reasoningCheaper, 100, 50));
    }

    [Fact]
    public void A_real_catalogue_price_costs_what_the_vendor_bills()
    {
        ModelPrice sonnet = PriceCatalog.Default.Find("claude-sonnet-4-20250514")!;
        var usage = new UsageDetails { InputTokenCount = 1_000_000, CachedInputTokenCount = 250_000, OutputTokenCount = 100_000 };

        // 750k x $3/M + 250k x $0.30/M + 100k x $15/M = $2.25 + $0.075 + $1.50.
        Assert.Equal(3.825m, Cost.ToUsd(Cost.Of(sonnet, usage)));
    }

    [Fact]
    public void Costing_usage_allocates_nothing()
    {
        var usage = new UsageDetails { InputTokenCount = 1_000, CachedInputTokenCount = 400, OutputTokenCount = 500, ReasoningTokenCount = 100 };
        var price = new ModelPrice { InputPerMillion = 1.1m, OutputPerMillion = 4.4m, CachedInputPerMillion = 0.275m, ReasoningPerMillion = 5m };
        long sum = Cost.Of(price, usage) + Cost.Of(price, 10, 10);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            sum += Cost.Of(price, usage) + Cost.Of(price, i, i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);
    }
}

public class TokenRatesTests
{
    [Theory]
    [InlineData(0.15, 0.6, 0.075, null, 1000L, 800L, 250L, 0L)]
    [InlineData(3.0, 15.0, 0.30, null, 12345L, 0L, 678L, 0L)]
    [InlineData(1.1, 4.4, 0.275, 8.8, 5000L, 1000L, 3000L, 2000L)]
    [InlineData(0.0375, 0.15, null, null, 7L, 0L, 3L, 0L)]
    public void Integer_rates_charge_what_the_decimal_reference_charges(double input, double output, double? cached, double? reasoning, long inTokens, long cachedTokens, long outTokens, long reasoningTokens)
    {
        var price = new ModelPrice
        {
            InputPerMillion = (decimal)input,
            OutputPerMillion = (decimal)output,
            CachedInputPerMillion = (decimal?)cached,
            ReasoningPerMillion = (decimal?)reasoning,
        };
        var usage = new Microsoft.Extensions.AI.UsageDetails
        {
            InputTokenCount = inTokens,
            CachedInputTokenCount = cachedTokens,
            OutputTokenCount = outTokens,
            ReasoningTokenCount = reasoningTokens,
        };
        TokenRates rates = TokenRates.From(price);

        Assert.Equal(Cost.Of(price, usage), rates.Of(usage));
        Assert.Equal(Cost.Of(price, inTokens, outTokens), rates.WorstCase(inTokens, outTokens));
    }

    [Fact]
    public void Anthropic_cache_writes_cost_the_cache_write_price_reads_the_cached_price_and_the_rest_the_input_price()
    {
        var haiku = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 5m, CachedInputPerMillion = 0.1m, CacheWritePerMillion = 1.25m };

        // As the Anthropic SDK reports a turn: input includes cache reads and writes; writes only in AdditionalCounts.
        var usage = new UsageDetails
        {
            InputTokenCount = 3_000,
            CachedInputTokenCount = 1_000,
            OutputTokenCount = 100,
            AdditionalCounts = new() { ["CacheCreationInputTokens"] = 1_500 },
        };

        // 500 plain x $1 + 1,000 read x $0.10 + 1,500 written x $1.25 + 100 out x $5, per million.
        long expected = Cost.ToNanos((500m * 1m + 1_000m * 0.1m + 1_500m * 1.25m + 100m * 5m) / 1_000_000m);
        Assert.Equal(expected, Cost.Of(haiku, usage));
        Assert.Equal(expected, TokenRates.From(haiku).Of(usage));

        // Without a cache-write price, writes cost the input price; more writes than uncached input are clamped.
        var plain = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 5m, CachedInputPerMillion = 0.1m };
        Assert.Equal(Cost.ToNanos((2_000m * 1m + 1_000m * 0.1m + 100m * 5m) / 1_000_000m), Cost.Of(plain, usage));
        usage.AdditionalCounts["CacheCreationInputTokens"] = 99_999;
        Assert.Equal(Cost.ToNanos((1_000m * 0.1m + 2_000m * 1.25m + 100m * 5m) / 1_000_000m), TokenRates.From(haiku).Of(usage));
    }

    [Fact]
    public void The_worst_case_charges_input_at_the_cache_write_price_when_it_is_dearer()
    {
        var haiku = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 5m, CacheWritePerMillion = 1.25m };

        long expected = Cost.ToNanos((1_000m * 1.25m + 100m * 5m) / 1_000_000m);
        Assert.Equal(expected, Cost.Of(haiku, 1_000, 100));
        Assert.Equal(expected, TokenRates.From(haiku).WorstCase(1_000, 100));
    }
}
