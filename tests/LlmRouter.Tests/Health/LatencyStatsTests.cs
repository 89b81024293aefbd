using LlmRouter.Health.Internal;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Health;

/// <summary>
/// A deployment's latency and failure statistics, built as the router builds them: a <see cref="RouterClock"/> over a
/// FakeTimeProvider (10^7 ticks a second) and the deployment's lock.
/// </summary>
public class LatencyStatsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RouterClock _clock;
    private readonly Lock _gate = new();

    // Explicit values, so that no test depends on the defaults.
    private readonly LatencyRankingOptions _options = new()
    {
        HalfLife = TimeSpan.FromMinutes(1),
        StaleAfter = TimeSpan.FromMinutes(5),
        MinimumSamples = 3,
    };

    private LatencyStats? _stats;

    public LatencyStatsTests()
    {
        _clock = new RouterClock(_time);
    }

    /// <summary>Built on first use, so a test can change the options first.</summary>
    private LatencyStats Stats => _stats ??= new LatencyStats(_options, _clock, _gate);

    private long Now => _clock.Now();

    private void Successes(bool streaming, params double[] seconds)
    {
        foreach (double s in seconds)
        {
            Stats.RecordSuccess(s, streaming, Now);
        }
    }

    [Fact]
    public void Before_any_attempt_there_is_no_mean_no_failure_rate_and_both_kinds_are_cold()
    {
        Assert.True(double.IsNaN(Stats.MeanSeconds(streaming: false)));
        Assert.True(double.IsNaN(Stats.MeanSeconds(streaming: true)));
        Assert.Equal(0, Stats.FailureRate);
        Assert.Equal((0L, 0L), (Stats.TotalSamples, Stats.FirstTokenSamples));
        Assert.True(Stats.IsCold(streaming: false, Now));
        Assert.True(Stats.IsCold(streaming: true, Now));
    }

    [Fact]
    public void Total_time_and_time_to_first_token_are_kept_apart()
    {
        Stats.RecordSuccess(2.0, streaming: false, Now);
        Stats.RecordSuccess(0.5, streaming: true, Now);
        Stats.RecordSuccess(0.7, streaming: true, Now);

        Assert.Equal(2.0, Stats.MeanSeconds(streaming: false));
        Assert.Equal(0.6, Stats.MeanSeconds(streaming: true), 12); // (0.5 + 0.7) / 2, no time between them
        Assert.Equal((1L, 2L), (Stats.TotalSamples, Stats.FirstTokenSamples));
    }

    [Fact]
    public void The_first_minimum_samples_seed_the_mean_with_their_median()
    {
        Successes(false, 1.0, 10.0);
        Assert.Equal(5.5, Stats.MeanSeconds(streaming: false)); // a plain mean until the warm-up is complete: (1 + 10) / 2

        Successes(false, 2.0);

        Assert.Equal(2.0, Stats.MeanSeconds(streaming: false)); // median of {1, 10, 2}, not the mean 13 / 3
        Successes(false, 6.0);
        Assert.Equal(3.0, Stats.MeanSeconds(streaming: false), 12); // the median weighs 3: (2 x 3 + 6) / (3 + 1)
    }

    [Fact]
    public void The_median_of_an_even_warm_up_is_the_mean_of_its_middle_two()
    {
        _options.MinimumSamples = 4;

        Successes(true, 8.0, 1.0, 3.0, 5.0);

        Assert.Equal(4.0, Stats.MeanSeconds(streaming: true)); // sorted {1, 3, 5, 8}: (3 + 5) / 2
    }

    [Fact]
    public void A_sample_one_half_life_older_weighs_half()
    {
        _options.MinimumSamples = 1; // no warm-up: the first sample is the mean
        Successes(false, 1.0);
        _time.Advance(TimeSpan.FromMinutes(1));

        Successes(false, 4.0);

        Assert.Equal(3.0, Stats.MeanSeconds(streaming: false), 12); // (0.5 x 1 + 4) / (0.5 + 1)
    }

    [Fact]
    public void The_failure_rate_is_a_decayed_mean_of_failures_as_ones_and_successes_as_zeros()
    {
        long now = Now;
        Stats.RecordFailure(slowSeconds: null, streaming: false, now);
        Assert.Equal(1.0, Stats.FailureRate);

        Stats.RecordSuccess(1.0, streaming: false, now);
        Assert.Equal(0.5, Stats.FailureRate, 12); // (1 + 0) / 2

        _time.Advance(TimeSpan.FromMinutes(1));
        Stats.RecordSuccess(1.0, streaming: true, Now); // either kind of success counts
        Assert.Equal(0.25, Stats.FailureRate, 12); // (0.5 x 1 + 0.5 x 0 + 0) / (0.5 x 2 + 1)
    }

    [Fact]
    public void A_failure_without_a_duration_adds_no_latency_sample()
    {
        Stats.RecordFailure(slowSeconds: null, streaming: false, Now);

        Assert.Equal(0L, Stats.TotalSamples);
        Assert.True(double.IsNaN(Stats.MeanSeconds(streaming: false)));
    }

    [Fact]
    public void A_timed_out_attempt_adds_its_duration_as_a_slow_sample_of_its_kind()
    {
        _options.MinimumSamples = 1;
        Successes(true, 1.0);

        Stats.RecordFailure(slowSeconds: 30.0, streaming: true, Now);

        Assert.Equal((0L, 2L), (Stats.TotalSamples, Stats.FirstTokenSamples));
        Assert.Equal(15.5, Stats.MeanSeconds(streaming: true), 12); // (1 + 30) / 2
        Assert.Equal(0.5, Stats.FailureRate, 12); // and it is a failure: (0 for the success + 1) / 2
    }

    [Fact]
    public void A_kind_is_cold_until_it_has_minimum_samples()
    {
        Successes(false, 1.0, 1.0);
        Assert.True(Stats.IsCold(streaming: false, Now));

        Successes(false, 1.0);

        Assert.False(Stats.IsCold(streaming: false, Now));
        Assert.True(Stats.IsCold(streaming: true, Now)); // the other kind has nothing
    }

    [Theory]
    [InlineData(59, false)] // 3 samples weigh 3; the trust threshold is half of MinimumSamples, 1.5: one half-life (60 s) away
    [InlineData(61, true)]
    public void Left_alone_for_a_half_life_a_deployment_with_just_minimum_samples_goes_cold(int secondsLater, bool cold)
    {
        Successes(false, 1.0, 1.0, 1.0);
        _time.Advance(TimeSpan.FromSeconds(secondsLater));

        Assert.Equal(cold, Stats.IsCold(streaming: false, Now));
    }

    [Fact]
    public void A_long_history_stays_trusted_longer()
    {
        for (int i = 0; i < 12; i++)
        {
            Successes(false, 1.0); // weight 12: down to 1.5 after log2(12 / 1.5) = 3 half-lives
        }

        _time.Advance(TimeSpan.FromSeconds(170));
        Assert.False(Stats.IsCold(streaming: false, Now)); // 2.8 half-lives
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(Stats.IsCold(streaming: false, Now)); // 3.2 half-lives
    }

    [Fact]
    public void Whatever_the_history_nothing_for_stale_after_is_cold()
    {
        _options.StaleAfter = TimeSpan.FromSeconds(10); // well within the 60 s of trust that 3 samples give
        Successes(false, 1.0, 1.0, 1.0);
        long last = Now;

        Assert.False(Stats.IsCold(streaming: false, last + 100_000_000)); // exactly 10 s (10 x 10^7 ticks) later: not yet
        Assert.True(Stats.IsCold(streaming: false, last + 100_000_001)); // one tick more
    }

    [Fact]
    public void Cold_probe_slots_are_bounded_and_released()
    {
        Assert.True(Stats.TryAcquireColdProbe(2));
        Assert.True(Stats.TryAcquireColdProbe(2));
        Assert.False(Stats.TryAcquireColdProbe(2));
        Assert.True(Stats.TryAcquireColdProbe(3)); // the bound is the caller's: 2 taken, 3 allowed

        Stats.ReleaseColdProbe();
        Stats.ReleaseColdProbe();

        Assert.True(Stats.TryAcquireColdProbe(2)); // 3 - 2 = 1 taken
        Assert.False(Stats.TryAcquireColdProbe(2));
        Assert.False(Stats.TryAcquireColdProbe(0));
    }

    [Fact]
    public void A_reset_forgets_every_sample_and_the_next_ones_warm_up_again()
    {
        Successes(false, 1.0, 1.0, 1.0);
        Successes(true, 1.0, 1.0, 1.0);
        Stats.RecordFailure(slowSeconds: null, streaming: false, Now);

        lock (_gate)
        {
            Stats.ResetLocked(); // as the deployment does when its circuit closes
        }

        Assert.True(double.IsNaN(Stats.MeanSeconds(streaming: false)));
        Assert.True(double.IsNaN(Stats.MeanSeconds(streaming: true)));
        Assert.Equal(0, Stats.FailureRate);
        Assert.Equal((0L, 0L), (Stats.TotalSamples, Stats.FirstTokenSamples));
        Assert.True(Stats.IsCold(streaming: false, Now));
        Successes(false, 4.0, 40.0, 5.0);
        Assert.Equal(5.0, Stats.MeanSeconds(streaming: false)); // median of {4, 40, 5}: the warm-up ran again
        Assert.False(Stats.IsCold(streaming: false, Now));
    }

    [Fact]
    public void Ticks_convert_to_seconds_at_the_clocks_frequency()
    {
        Assert.Equal(2.5, Stats.ToSeconds(25_000_000)); // 2.5 x 10^7 ticks
    }
}
