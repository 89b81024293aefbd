using LlmRouter.Health.Internal;

namespace LlmRouter.Tests.Health;

/// <summary>
/// The log-normal fit behind percentile hedging delays: an exponentially weighted mean and variance of ln(seconds) with
/// a weight of 1/16 per new sample, read as exp(mean + z(p) x sd) once there are five samples.
/// </summary>
public class LatencyQuantileTests
{
    private static LatencyQuantile With(params double[] seconds)
    {
        var quantile = new LatencyQuantile();
        foreach (double s in seconds)
        {
            quantile.RecordLocked(s);
        }

        return quantile;
    }

    private static double SecondsAt(LatencyQuantile quantile, double p) => Assert.NotNull(quantile.At(p)).TotalSeconds;

    [Fact]
    public void Fewer_than_five_samples_give_no_percentile()
    {
        LatencyQuantile quantile = With(1, 1, 1, 1);
        Assert.Null(quantile.At(0.5));
        Assert.Null(quantile.At(0.9));

        quantile.RecordLocked(1);

        Assert.NotNull(quantile.At(0.5));
    }

    [Fact]
    public void Samples_that_are_not_positive_durations_are_ignored()
    {
        LatencyQuantile quantile = With(0.2, 0.2, 0.2, 0.2, 0, -1, double.NaN); // four valid, three ignored
        Assert.Null(quantile.At(0.5));

        quantile.RecordLocked(0.2);

        Assert.Equal(0.2, SecondsAt(quantile, 0.5), 6); // the fifth valid sample; the ignored ones moved nothing
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public void Identical_samples_put_every_percentile_at_that_latency(double p)
    {
        LatencyQuantile quantile = With(0.25, 0.25, 0.25, 0.25, 0.25, 0.25);

        Assert.Equal(0.25, SecondsAt(quantile, p), 6); // variance 0: exp(ln 0.25 + z x 0)
    }

    [Fact]
    public void Percentiles_follow_the_weighted_mean_and_variance_of_the_logarithm()
    {
        // ln: 0, 1.6, then 0.1 three times. After the 2nd: mean 0 + 1.6 / 16 = 0.1, variance 15/16 x (1/16 x 1.6^2) = 0.15;
        // the 0.1s differ from the mean by 0, so the variance only decays: 0.15 x (15/16)^3 = 0.16 x (15/16)^4, sd 0.4 x (15/16)^2 = 0.3515625.
        LatencyQuantile quantile = With(1, Math.Exp(1.6), Math.Exp(0.1), Math.Exp(0.1), Math.Exp(0.1));

        Assert.Equal(1.1051709180756477, SecondsAt(quantile, 0.5), 6);   // e^0.1: z(0.5) = 0
        Assert.Equal(2.2013038377007077, SecondsAt(quantile, 0.975), 6); // e^(0.1 + 1.959964 x 0.3515625)
        Assert.Equal(0.5548542355860979, SecondsAt(quantile, 0.025), 6); // e^(0.1 - 1.959964 x 0.3515625)
    }

    [Fact]
    public void Recent_samples_dominate_each_older_one_weighing_fifteen_sixteenths_of_the_next()
    {
        LatencyQuantile quantile = With(1); // ln 1 = 0
        for (int i = 0; i < 30; i++)
        {
            quantile.RecordLocked(2); // ln 2, 30 times: the mean moves to ln 2 x (1 - (15/16)^30)
        }

        Assert.Equal(1.809689939361161, SecondsAt(quantile, 0.5), 6); // 2^(1 - 0.144257)
    }

    [Fact]
    public void A_percentile_is_capped_at_a_day()
    {
        LatencyQuantile quantile = With(1e6, 1e6, 1e6, 1e6, 1e6); // 11.6 days each

        Assert.Equal(TimeSpan.FromDays(1), quantile.At(0.5));
    }

    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(0.8413447460685429, 1.0)]     // Phi(1)
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.025, -1.959963984540054)]
    [InlineData(0.99, 2.3263478740408408)]    // the upper tail branch (p > 0.97575)
    [InlineData(0.01, -2.3263478740408408)]   // the lower tail branch (p < 0.02425)
    [InlineData(0.001, -3.090232306167813)]
    public void The_standard_normal_quantile_matches_known_values(double p, double z)
    {
        // Acklam's approximation: relative error below 1.2e-9 (absolute near 0, where z itself is 0).
        Assert.Equal(z, LatencyQuantile.NormalQuantile(p), tolerance: 1.2e-9 * Math.Max(1, Math.Abs(z)));
    }
}
