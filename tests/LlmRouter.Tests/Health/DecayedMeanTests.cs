using LlmRouter.Health.Internal;

namespace LlmRouter.Tests.Health;

/// <summary>The time-decayed mean's arithmetic, on a clock whose half-life is 1,024 ticks.</summary>
public class DecayedMeanTests
{
    private const long HalfLife = 1024;

    // As LatencyStats computes it: ln 2 / half-life in ticks. A power-of-two half-life keeps the divisions exact.
    private static readonly double DecayPerTick = Math.Log(2) / HalfLife;

    private static DecayedMean With(long timestamp, params double[] values)
    {
        var mean = new DecayedMean();
        foreach (double v in values)
        {
            mean.Add(v, timestamp, DecayPerTick);
        }

        return mean;
    }

    [Fact]
    public void A_new_mean_has_no_value_no_samples_and_no_trust()
    {
        var mean = new DecayedMean();

        Assert.True(double.IsNaN(mean.Mean));
        Assert.Equal((0L, 0L, long.MinValue), (mean.Count, mean.LastTimestamp, mean.TrustedUntil));
    }

    [Fact]
    public void Samples_at_the_same_instant_average_plainly()
    {
        DecayedMean mean = With(5_000, 2, 4, 9);

        Assert.Equal(5.0, mean.Mean); // (2 + 4 + 9) / 3
        Assert.Equal((3L, 5_000L), (mean.Count, mean.LastTimestamp));
    }

    [Fact]
    public void The_first_sample_is_the_mean_however_late_it_comes()
    {
        DecayedMean mean = With(1_000_000_000, 7);

        Assert.Equal(7.0, mean.Mean);
    }

    [Theory]
    [InlineData(1, 10.0 / 3)]   // 10 x 0.5 / (0.5 + 1)
    [InlineData(2, 2.0)]        // 10 x 0.25 / (0.25 + 1)
    [InlineData(3, 10.0 / 9)]   // 10 x 0.125 / (0.125 + 1)
    public void Each_half_life_halves_the_weight_of_what_came_before(int halfLives, double expected)
    {
        var mean = new DecayedMean();
        mean.Add(10, 1_000, DecayPerTick);

        mean.Add(0, 1_000 + (halfLives * HalfLife), DecayPerTick);

        Assert.Equal(expected, mean.Mean, 12);
        Assert.Equal(2L, mean.Count);
    }

    [Fact]
    public void Decay_scales_the_sum_with_the_weight_so_equal_samples_keep_their_value()
    {
        var mean = new DecayedMean();
        mean.Add(6, 1_000, DecayPerTick);

        mean.Add(6, 1_000 + (5 * HalfLife), DecayPerTick);

        Assert.Equal(6.0, mean.Mean, 12); // (6 x 2^-5 + 6) / (2^-5 + 1)
    }

    [Fact]
    public void A_tick_apart_the_series_expansion_matches_the_exponential()
    {
        var mean = new DecayedMean();
        mean.Add(10, 1_000, DecayPerTick);

        mean.Add(0, 1_001, DecayPerTick); // x = ln 2 / 1024 = 6.8e-4 < 1e-3: 1 - x + x^2 / 2 instead of e^-x (error ~x^3 / 6 = 5e-11)

        double f = Math.Exp(-DecayPerTick);
        Assert.Equal(10 * f / (f + 1), mean.Mean, 9); // 4.99831...
    }

    [Fact]
    public void A_sample_with_an_earlier_timestamp_decays_nothing()
    {
        var mean = new DecayedMean();
        mean.Add(10, 5_000, DecayPerTick);

        mean.Add(0, 4_000, DecayPerTick);

        Assert.Equal(5.0, mean.Mean); // (10 + 0) / 2
    }

    [Fact]
    public void Seeding_replaces_the_history_with_one_weighted_value_and_keeps_the_count()
    {
        DecayedMean mean = With(1_000, 1, 2, 30);

        mean.Seed(2, 3);

        Assert.Equal((2.0, 3L), (mean.Mean, mean.Count));
        mean.Add(6, 1_000, DecayPerTick);
        Assert.Equal(3.0, mean.Mean); // (2 x 3 + 6) / (3 + 1), not (1 + 2 + 30 + 6) / 4
        Assert.Equal(4L, mean.Count);
    }

    [Theory]
    [InlineData(1.5, 1_000L + 1024)]  // weight 3 = 2 x 1.5: one half-life
    [InlineData(0.75, 1_000L + 2048)] // 3 = 4 x 0.75: two half-lives
    [InlineData(3.0, 1_000L)]         // at the threshold already: trusted until the last sample only
    public void Trust_lasts_until_the_decayed_weight_falls_to_the_threshold(double threshold, long until)
    {
        DecayedMean mean = With(1_000, 1, 1, 1); // weight 3, last sample at 1,000

        mean.UpdateTrust(threshold, DecayPerTick);

        Assert.Equal(until, mean.TrustedUntil);
    }

    [Fact]
    public void Between_powers_of_two_the_trust_horizon_is_a_linear_approximation_of_the_logarithm()
    {
        DecayedMean mean = With(1_000, 1, 1, 1);

        mean.UpdateTrust(1.0, DecayPerTick);

        // ln 3 read as 2^1 x 1.5: (1 + 0.5) ln 2, so 1.5 half-lives (1,536 ticks) against the exact log2(3) = 1.585 (1,623).
        Assert.Equal(1_000 + 1536, mean.TrustedUntil);
    }

    [Fact]
    public void Below_the_threshold_there_is_no_trust()
    {
        DecayedMean mean = With(1_000, 1, 1, 1);
        mean.UpdateTrust(1.5, DecayPerTick);

        mean.UpdateTrust(3.5, DecayPerTick); // weight 3 < 3.5

        Assert.Equal(long.MinValue, mean.TrustedUntil);
    }
}
