using LlmRouter.Health.Internal;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Health;

/// <summary>
/// The cell-rate quota behind declared and reported rate limits, built as the router builds it: on the router's clock
/// over a FakeTimeProvider (10^7 ticks a second), declared quotas with the router's burst of 10 seconds.
/// </summary>
public class RateQuotaTests
{
    private const long Second = 10_000_000; // ticks

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RouterClock _clock;

    public RateQuotaTests()
    {
        _clock = new RouterClock(_time);
    }

    private long Now => _clock.Now();

    /// <summary>As <see cref="Deployment"/> declares a RequestsPerMinute or TokensPerMinute limit.</summary>
    private RateQuota Declared(int perMinute) =>
        RateQuota.Declared(perMinute, _clock.Frequency, TimeSpan.FromSeconds(RouterDefaults.RateLimitBurstSeconds));

    private static void UseEach(RateQuota quota, long now, int times)
    {
        for (int i = 0; i < times; i++)
        {
            quota.Use(now, 1);
        }
    }

    [Fact]
    public void A_declared_quota_knows_its_limit()
    {
        RateQuota quota = Declared(60);

        Assert.Equal((60, true), (quota.Limit, quota.IsKnown));
    }

    [Fact]
    public void A_declared_quota_admits_a_burst_of_ten_seconds_of_its_rate_at_once()
    {
        RateQuota quota = Declared(60); // each request pushes the arrival time by 60 s / 60 = 1 s; the capacity is 10 s
        long now = Now;
        for (int i = 0; i < 10; i++)
        {
            Assert.True(quota.HasRoom(now, 1), $"request {i + 1}"); // backlog i s + 1 s <= 10 s
            quota.Use(now, 1);
        }

        Assert.False(quota.HasRoom(now, 1)); // backlog 10 s + 1 s > 10 s
    }

    [Fact]
    public void A_full_quota_has_room_again_once_one_request_has_refilled()
    {
        RateQuota quota = Declared(60);
        long start = Now;
        UseEach(quota, start, 10);

        Assert.False(quota.HasRoom(start + Second - 1, 1)); // backlog 9 s + 1 tick
        Assert.True(quota.HasRoom(start + Second, 1));      // backlog 9 s + 1 s = the 10 s capacity
    }

    [Fact]
    public void An_idle_quota_lets_a_request_larger_than_the_whole_bucket_through()
    {
        RateQuota quota = Declared(6_000); // tokens: 60 s / 6,000 = 10 ms each; 10 s of capacity is 1,000 tokens
        long start = Now;

        Assert.True(quota.HasRoom(start, 5_000));
        quota.Use(start, 10); // a backlog of 100 ms
        Assert.False(quota.HasRoom(start, 5_000));
        Assert.False(quota.HasRoom(start + (Second / 10) - 1, 5_000)); // one tick of backlog left
        Assert.True(quota.HasRoom(start + (Second / 10), 5_000));      // drained: idle again
    }

    [Fact]
    public void Token_room_is_what_the_capacity_leaves_after_the_backlog()
    {
        RateQuota quota = Declared(6_000);
        long now = Now;

        quota.Use(now, 500); // 500 x 10 ms = 5 s of backlog

        Assert.True(quota.HasRoom(now, 500));  // 5 s + 5 s = 10 s
        Assert.False(quota.HasRoom(now, 501)); // 5 s + 5.01 s
        Assert.True(quota.HasRoom(now, 0));
    }

    [Fact]
    public void Using_nothing_counts_nothing()
    {
        RateQuota quota = Declared(60);
        long now = Now;

        quota.Use(now, 0);
        quota.Use(now, -5);

        Assert.True(quota.HasRoom(now, 1_000)); // still idle: a request of any size gets through
    }

    [Fact]
    public void Use_beyond_the_limit_is_remembered_for_at_most_a_minute()
    {
        RateQuota quota = Declared(60);
        long start = Now;

        quota.Use(start, 1_000); // 1,000 s of requests, remembered as 60 s of backlog
        quota.Use(start, 1_000); // still 60 s ahead, not 120 s

        Assert.False(quota.HasRoom(start + (51 * Second) - 1, 1)); // 9 s + 1 tick left + 1 s > 10 s
        Assert.True(quota.HasRoom(start + (51 * Second), 1));      // 60 s - 51 s = 9 s, + 1 s = 10 s
    }

    [Fact]
    public void A_quota_without_a_declared_or_reported_rate_always_has_room_and_counts_nothing()
    {
        var quota = new RateQuota(_clock.Frequency); // as ReportedRateLimit creates it, before any report
        long now = Now;

        quota.Use(now, 1_000_000);

        Assert.Equal((0, false), (quota.Limit, quota.IsKnown));
        Assert.True(quota.HasRoom(now, 1_000_000));
    }

    [Fact]
    public void A_report_sets_the_rate_the_capacity_a_two_percent_margin_and_the_backlog_to_the_reset()
    {
        var quota = new RateQuota(_clock.Frequency);
        long now = Now;

        quota.Report(limit: 100, remaining: 50, resetAfter: TimeSpan.FromSeconds(30), now);

        // 60 s / 100 = 0.6 s a request; capacity 50 x 0.6 s + 30 s = 60 s; margin max(1, 2% of 100) x 0.6 s = 1.2 s;
        // backlog 30 s (the reset). Room for u while 30 + 0.6 u + 1.2 <= 60: u <= 48, the 50 left less the margin.
        Assert.Equal((100, true), (quota.Limit, quota.IsKnown));
        Assert.True(quota.HasRoom(now, 48));
        Assert.False(quota.HasRoom(now, 49));
        quota.Use(now, 10);
        Assert.True(quota.HasRoom(now, 38));  // 10 sent since the report
        Assert.False(quota.HasRoom(now, 39));
    }

    [Fact]
    public void A_remaining_count_above_the_limit_counts_as_the_limit()
    {
        var quota = new RateQuota(_clock.Frequency);
        long now = Now;

        quota.Report(limit: 100, remaining: 500, resetAfter: null, now); // as 100 left: capacity 60 s, no backlog (nothing to refill)
        UseEach(quota, now, 97);

        Assert.True(quota.HasRoom(now, 1));  // 97 x 0.6 s + 0.6 s + the 1.2 s margin = 60 s
        quota.Use(now, 1);
        Assert.False(quota.HasRoom(now, 1)); // 98 x 0.6 s + 0.6 s + 1.2 s = 60.6 s
    }

    [Fact]
    public void A_report_without_a_limit_is_ignored()
    {
        var quota = new RateQuota(_clock.Frequency);
        long now = Now;

        quota.Report(limit: 0, remaining: 0, resetAfter: TimeSpan.FromMinutes(1), now);

        Assert.False(quota.IsKnown);
        Assert.True(quota.HasRoom(now, 1));
    }
}
