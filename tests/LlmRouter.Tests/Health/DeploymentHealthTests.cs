using LlmRouter.Health.Internal;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Health;

/// <summary>
/// The cooldown and circuit breaker of one deployment, built as the router builds it: a <see cref="RouterClock"/> over
/// a FakeTimeProvider (timestamps of 10^7 ticks a second) and the deployment's lock.
/// </summary>
public class DeploymentHealthTests
{
    private const long TicksPerSecond = 10_000_000;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RouterClock _clock;

    // Explicit values, so that no test depends on the defaults.
    private readonly HealthOptions _options = new()
    {
        RateLimitCooldown = TimeSpan.FromSeconds(5),
        LongRetryAfter = TimeSpan.FromSeconds(10),
        RateLimitRatioThreshold = 0.2,
        MisconfiguredCooldown = TimeSpan.FromMinutes(5),
        MaxCooldown = TimeSpan.FromMinutes(1),
        ConsecutiveFailureThreshold = 3,
        FailureRatioThreshold = 0.5,
        MinimumThroughput = 10,
        SamplingDuration = TimeSpan.FromSeconds(30),
        BreakDuration = TimeSpan.FromSeconds(30),
        ProbesToClose = 2,
    };

    private DeploymentHealth? _health;

    public DeploymentHealthTests()
    {
        _clock = new RouterClock(_time);
    }

    /// <summary>Built on first use, so a test can change the options first.</summary>
    private DeploymentHealth Health => _health ??= new DeploymentHealth(_options, _clock, new Lock());

    private long Now => _clock.Now();

    private static long Seconds(double seconds) => (long)(seconds * TicksPerSecond);

    /// <summary>Opens the circuit by consecutive transient failures at <see cref="Now"/>.</summary>
    private void Open()
    {
        for (int i = 0; i < _options.ConsecutiveFailureThreshold; i++)
        {
            Health.RecordFailure(Now, FailureKind.Transient, retryAfter: null, probe: false);
        }

        Assert.Equal(CircuitState.Open, Health.State);
    }

    [Fact]
    public void The_router_clock_over_a_fake_time_provider_counts_ten_million_ticks_a_second()
    {
        long before = Now;
        _time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(TicksPerSecond, _clock.Frequency);
        Assert.Equal(Seconds(3), Now - before); // every expected value below is in these ticks
        Assert.Equal(Seconds(3), Health.ToTicks(TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public void A_new_deployment_is_closed_available_and_admits_without_probing()
    {
        long now = Now;

        Assert.Equal(CircuitState.Closed, Health.State);
        Assert.True(Health.IsAvailable(now));
        Assert.Equal(now, Health.AvailableAt(now));
        Assert.True(Health.TryAdmit(now, out bool probe));
        Assert.False(probe);
        Assert.Equal((0L, 0L, 0), (Health.Successes, Health.Failures, Health.ConsecutiveFailures));
    }

    [Fact]
    public void A_rate_limit_with_the_limit_used_up_cools_down_for_the_rate_limit_cooldown()
    {
        long now = Now;

        HealthTransition transition = Health.RecordFailure(now, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true);

        Assert.Equal(HealthTransition.CooledDown, transition);
        Assert.Equal(now + Seconds(5), Health.CooldownUntil); // RateLimitCooldown 5 s = 5 x 10^7 ticks
        Assert.Equal(now + Seconds(5), Health.AvailableAt(now));
        Assert.False(Health.IsAvailable(now + Seconds(5) - 1));
        Assert.False(Health.TryAdmit(now + Seconds(5) - 1, out _));
        Assert.True(Health.IsAvailable(now + Seconds(5)));
        Assert.True(Health.TryAdmit(now + Seconds(5), out bool probe));
        Assert.False(probe); // a cooldown is not a circuit: no probe
        Assert.Equal(CircuitState.Closed, Health.State);
    }

    [Fact]
    public void A_sporadic_rate_limit_ranks_the_deployment_last_for_the_wait_but_keeps_it_available()
    {
        long now = Now;

        HealthTransition transition = Health.RecordFailure(now, FailureKind.RateLimited, retryAfter: null, probe: false);

        Assert.Equal(HealthTransition.Throttled, transition);
        Assert.Equal(0, Health.CooldownUntil);
        Assert.True(Health.IsAvailable(now));
        Assert.True(Health.TryAdmit(now, out _));
        Assert.True(Health.IsThrottled(now + Seconds(5) - 1)); // RateLimitCooldown 5 s without a Retry-After
        Assert.False(Health.IsThrottled(now + Seconds(5)));

        Health.RecordFailure(now, FailureKind.RateLimited, TimeSpan.FromSeconds(2), probe: false);
        Assert.Equal(now + Seconds(5), Health.ThrottledUntil); // a shorter wait never cuts a longer one short
    }

    [Theory]
    [InlineData(10.0, true)]  // LongRetryAfter: a real limit, out of routing at once
    [InlineData(9.9, false)]
    public void A_retry_after_of_at_least_long_retry_after_cools_down_at_once(double retryAfterSeconds, bool coolsDown)
    {
        long now = Now;

        HealthTransition transition = Health.RecordFailure(now, FailureKind.RateLimited, TimeSpan.FromSeconds(retryAfterSeconds), probe: false);

        Assert.Equal(coolsDown ? HealthTransition.CooledDown : HealthTransition.Throttled, transition);
        Assert.Equal(coolsDown ? now + Seconds(retryAfterSeconds) : 0, Health.CooldownUntil);
    }

    [Fact]
    public void Rate_limits_cool_down_once_they_reach_the_ratio_of_the_window()
    {
        _options.ConsecutiveFailureThreshold = 100; // the circuit stays out of this
        long now = Now;
        for (int i = 0; i < 20; i++)
        {
            Health.RecordSuccess(now, probe: false);
        }

        // 20 successes: the 5th 429 is 5 of 25 attempts, RateLimitRatioThreshold 0.2.
        for (int k = 1; k <= 4; k++)
        {
            Assert.Equal(HealthTransition.Throttled, Health.RecordFailure(now, FailureKind.RateLimited, null, probe: false));
        }

        Assert.Equal(HealthTransition.CooledDown, Health.RecordFailure(now, FailureKind.RateLimited, null, probe: false));
        Assert.False(Health.IsAvailable(now));
    }

    [Fact]
    public void Rate_limits_on_every_call_cool_down_at_the_third()
    {
        _options.ConsecutiveFailureThreshold = 100;
        long now = Now;

        Assert.Equal(HealthTransition.Throttled, Health.RecordFailure(now, FailureKind.RateLimited, null, probe: false));
        Assert.Equal(HealthTransition.Throttled, Health.RecordFailure(now, FailureKind.RateLimited, null, probe: false));
        Assert.Equal(HealthTransition.CooledDown, Health.RecordFailure(now, FailureKind.RateLimited, null, probe: false));
    }

    [Fact]
    public void Rate_limits_of_an_earlier_window_do_not_count()
    {
        _options.ConsecutiveFailureThreshold = 100;
        Health.RecordFailure(Now, FailureKind.RateLimited, null, probe: false);
        Health.RecordFailure(Now, FailureKind.RateLimited, null, probe: false);
        _time.Advance(TimeSpan.FromSeconds(30)); // SamplingDuration: a new window

        Assert.Equal(HealthTransition.Throttled, Health.RecordFailure(Now, FailureKind.RateLimited, null, probe: false));
    }

    [Theory]
    [InlineData(12.0, 12.0)]     // honoured as given
    [InlineData(0.5, 0.5)]       // even when shorter than RateLimitCooldown (5 s)
    [InlineData(3600.0, 60.0)]   // an hour is capped at MaxCooldown (1 min)
    public void A_rate_limits_retry_after_sets_the_cooldown_up_to_the_max_cooldown(double retryAfterSeconds, double cooldownSeconds)
    {
        long now = Now;

        Health.RecordFailure(now, FailureKind.RateLimited, TimeSpan.FromSeconds(retryAfterSeconds), probe: false, limitUsedUp: true);

        Assert.Equal(now + Seconds(cooldownSeconds), Health.CooldownUntil);
    }

    [Fact]
    public void A_transient_failure_cools_down_only_when_the_provider_sent_a_retry_after_capped_at_the_max_cooldown()
    {
        long now = Now;

        Assert.Equal(HealthTransition.None, Health.RecordFailure(now, FailureKind.Transient, retryAfter: null, probe: false));
        Assert.Equal(0, Health.CooldownUntil);
        Assert.True(Health.IsAvailable(now));

        Assert.Equal(HealthTransition.CooledDown, Health.RecordFailure(now, FailureKind.Transient, TimeSpan.FromSeconds(20), probe: false));
        Assert.Equal(now + Seconds(20), Health.CooldownUntil);

        Health.RecordFailure(now, FailureKind.Transient, TimeSpan.FromHours(2), probe: false);
        Assert.Equal(now + Seconds(60), Health.CooldownUntil); // 2 h capped at MaxCooldown: 60 s
    }

    [Fact]
    public void A_misconfiguration_cools_down_for_the_misconfigured_cooldown_whatever_the_retry_after()
    {
        long now = Now;

        Assert.Equal(HealthTransition.CooledDown, Health.RecordFailure(now, FailureKind.Misconfigured, TimeSpan.FromSeconds(1), probe: false));

        Assert.Equal(now + Seconds(300), Health.CooldownUntil); // MisconfiguredCooldown 5 min = 300 s, not the 1 s Retry-After
    }

    [Fact]
    public void A_zero_retry_after_imposes_no_cooldown()
    {
        long now = Now;

        Assert.Equal(HealthTransition.None, Health.RecordFailure(now, FailureKind.RateLimited, TimeSpan.Zero, probe: false));

        Assert.True(Health.IsAvailable(now));
        Assert.Equal(now, Health.AvailableAt(now));
    }

    [Fact]
    public void A_shorter_cooldown_never_cuts_a_longer_one_short()
    {
        long start = Now;
        Health.RecordFailure(start, FailureKind.RateLimited, TimeSpan.FromSeconds(40), probe: false);
        _time.Advance(TimeSpan.FromSeconds(10));

        HealthTransition transition = Health.RecordFailure(Now, FailureKind.RateLimited, TimeSpan.FromSeconds(5), probe: false, limitUsedUp: true);

        Assert.Equal(HealthTransition.CooledDown, transition);
        Assert.Equal(start + Seconds(40), Health.CooldownUntil); // start + 40 s is later than (start + 10 s) + 5 s
        Health.RecordFailure(Now, FailureKind.RateLimited, TimeSpan.FromSeconds(35), probe: false);
        Assert.Equal(start + Seconds(45), Health.CooldownUntil); // (start + 10 s) + 35 s is later: it extends
    }

    [Fact]
    public void Consecutive_failures_open_the_circuit_for_the_break_duration()
    {
        long now = Now;

        Assert.Equal(HealthTransition.None, Health.RecordFailure(now, FailureKind.Transient, null, probe: false));
        Assert.Equal(HealthTransition.None, Health.RecordFailure(now, FailureKind.Transient, null, probe: false));
        Assert.Equal(CircuitState.Closed, Health.State);
        Assert.Equal(HealthTransition.CircuitOpened, Health.RecordFailure(now, FailureKind.Transient, null, probe: false)); // the 3rd of ConsecutiveFailureThreshold 3

        Assert.Equal(CircuitState.Open, Health.State);
        Assert.Equal(now + Seconds(30), Health.OpenUntil); // BreakDuration 30 s
        Assert.Equal(now + Seconds(30), Health.AvailableAt(now));
        Assert.False(Health.IsAvailable(now + Seconds(30) - 1));
        Assert.False(Health.TryAdmit(now + Seconds(30) - 1, out _));
        Assert.True(Health.IsAvailable(now + Seconds(30)));
        Assert.Equal((3L, 3, now), (Health.Failures, Health.ConsecutiveFailures, Health.LastFailure));
    }

    [Fact]
    public void A_success_resets_the_consecutive_failures()
    {
        long now = Now;
        Health.RecordFailure(now, FailureKind.Transient, null, probe: false);
        Health.RecordFailure(now, FailureKind.Transient, null, probe: false);

        Assert.Equal(HealthTransition.None, Health.RecordSuccess(now, probe: false));
        Health.RecordFailure(now, FailureKind.Transient, null, probe: false);
        Health.RecordFailure(now, FailureKind.Transient, null, probe: false);

        Assert.Equal(CircuitState.Closed, Health.State); // 2 in a row after the success, under the threshold of 3
        Assert.Equal((1L, 4L, 2), (Health.Successes, Health.Failures, Health.ConsecutiveFailures));
    }

    [Fact]
    public void A_rate_limit_counts_as_a_failure_and_an_open_circuit_waits_for_the_later_of_its_break_and_the_cooldown()
    {
        _options.ConsecutiveFailureThreshold = 1;
        long now = Now;

        HealthTransition transition = Health.RecordFailure(now, FailureKind.RateLimited, TimeSpan.FromSeconds(50), probe: false);

        Assert.Equal(HealthTransition.CircuitOpened, transition); // the opening is the transition reported, not the cooldown
        Assert.Equal((now + Seconds(30), now + Seconds(50)), (Health.OpenUntil, Health.CooldownUntil));
        Assert.Equal(now + Seconds(50), Health.AvailableAt(now)); // max(break 30 s, cooldown 50 s)
        Assert.False(Health.IsAvailable(now + Seconds(30))); // past the break, still cooling down
        Assert.False(Health.TryAdmit(now + Seconds(30), out _));
        Assert.True(Health.TryAdmit(now + Seconds(50), out bool probe));
        Assert.True(probe);
    }

    [Fact]
    public void A_failure_ratio_at_the_threshold_over_the_minimum_throughput_opens_the_circuit()
    {
        _options.ConsecutiveFailureThreshold = 100; // only the ratio can open it
        long now = Now;
        for (int i = 0; i < 6; i++)
        {
            Health.RecordSuccess(now, probe: false);
        }

        for (int i = 0; i < 5; i++)
        {
            // 6 ok + 4 failed: 10 attempts (MinimumThroughput), 4 < 0.5 x 10; 6 ok + 5 failed: 5 < 0.5 x 11 = 5.5.
            Assert.Equal(HealthTransition.None, Health.RecordFailure(now, FailureKind.Transient, null, probe: false));
        }

        Assert.Equal(CircuitState.Closed, Health.State);
        // 6 ok + 6 failed: 6 >= 0.5 x 12.
        Assert.Equal(HealthTransition.CircuitOpened, Health.RecordFailure(now, FailureKind.Transient, null, probe: false));
        Assert.Equal(now + Seconds(30), Health.OpenUntil);
    }

    [Fact]
    public void Below_the_minimum_throughput_even_all_failures_do_not_open_by_ratio()
    {
        _options.ConsecutiveFailureThreshold = 100;
        long now = Now;
        for (int i = 0; i < 9; i++)
        {
            Health.RecordFailure(now, FailureKind.Transient, null, probe: false); // 9 of 9 failed, but 9 < MinimumThroughput 10
        }

        Assert.Equal(CircuitState.Closed, Health.State);
        Assert.Equal(HealthTransition.CircuitOpened, Health.RecordFailure(now, FailureKind.Transient, null, probe: false)); // 10 of 10
    }

    [Theory]
    [InlineData(29.9999999, true)]   // one tick before the sampling window (30 s) ends: the 9 earlier attempts count
    [InlineData(30.0, false)]        // the window has rolled: the failure is 1 of 1 attempt, under MinimumThroughput
    public void The_failure_ratio_counts_only_the_current_sampling_window(double later, bool opens)
    {
        _options.ConsecutiveFailureThreshold = 100;
        long start = Now; // the window starts with the first record
        for (int i = 0; i < 5; i++)
        {
            Health.RecordSuccess(start, probe: false);
        }

        for (int i = 0; i < 4; i++)
        {
            Health.RecordFailure(start, FailureKind.Transient, null, probe: false);
        }

        Assert.Equal(CircuitState.Closed, Health.State); // 9 attempts, under MinimumThroughput 10
        _time.Advance(TimeSpan.FromTicks(Seconds(later)));
        Health.RecordFailure(Now, FailureKind.Transient, null, probe: false); // with the earlier ones: 5 of 10 failed, 5 >= 0.5 x 10

        Assert.Equal(opens ? CircuitState.Open : CircuitState.Closed, Health.State);
    }

    [Fact]
    public void After_the_break_exactly_one_caller_is_admitted_as_the_half_open_probe()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(30));
        long now = Now;

        Assert.True(Health.TryAdmit(now, out bool first));
        Assert.False(Health.TryAdmit(now, out bool second));

        Assert.True(first);
        Assert.False(second);
        Assert.Equal(CircuitState.HalfOpen, Health.State);
        Assert.False(Health.IsAvailable(now)); // the probe's slot is taken
        Assert.Equal(now, Health.AvailableAt(now)); // documented: "now" while a probe is in flight
    }

    [Fact]
    public void The_circuit_closes_after_probes_to_close_successful_probes_in_a_row_each_next_request_probing_at_once()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(30));
        long now = Now;
        Assert.True(Health.TryAdmit(now, out bool probe));

        Assert.Equal(HealthTransition.None, Health.RecordSuccess(now, probe)); // 1 of ProbesToClose 2

        Assert.Equal((CircuitState.Open, now), (Health.State, Health.OpenUntil)); // open, but due at once
        Assert.True(Health.TryAdmit(now, out bool again));
        Assert.True(again);
        Assert.Equal(HealthTransition.CircuitClosed, Health.RecordSuccess(now, again)); // 2 of 2
        Assert.Equal(CircuitState.Closed, Health.State);
        Assert.True(Health.TryAdmit(now, out bool afterwards));
        Assert.False(afterwards);
    }

    [Fact]
    public void With_one_probe_to_close_the_first_successful_probe_closes()
    {
        _options.ProbesToClose = 1;
        Open();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Health.TryAdmit(Now, out bool probe));

        Assert.Equal(HealthTransition.CircuitClosed, Health.RecordSuccess(Now, probe));
        Assert.Equal(CircuitState.Closed, Health.State);
    }

    [Fact]
    public void A_failed_probe_reopens_for_a_full_break_and_the_successes_count_again_from_zero()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Health.TryAdmit(Now, out bool probe));
        Health.RecordSuccess(Now, probe); // 1 of 2
        Assert.True(Health.TryAdmit(Now, out probe));
        long failedAt = Now;

        Assert.Equal(HealthTransition.CircuitOpened, Health.RecordFailure(failedAt, FailureKind.Transient, null, probe));

        Assert.Equal((CircuitState.Open, failedAt + Seconds(30)), (Health.State, Health.OpenUntil));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Health.TryAdmit(Now, out probe));
        Assert.Equal(HealthTransition.None, Health.RecordSuccess(Now, probe)); // 1 of 2 again: the success before the failure is forgotten
        Assert.True(Health.TryAdmit(Now, out probe));
        Assert.Equal(HealthTransition.CircuitClosed, Health.RecordSuccess(Now, probe));
    }

    [Fact]
    public void An_attempt_admitted_before_the_circuit_opened_does_not_decide_the_probe()
    {
        _options.ConsecutiveFailureThreshold = 1;
        long now = Now;
        Assert.True(Health.TryAdmit(now, out bool early)); // a normal attempt, still in flight
        Health.RecordFailure(now, FailureKind.Transient, null, probe: false); // another attempt opens the circuit
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Health.TryAdmit(Now, out bool probe));
        Assert.True(probe);

        Assert.Equal(HealthTransition.None, Health.RecordFailure(Now, FailureKind.Transient, null, early));
        Assert.Equal(HealthTransition.None, Health.RecordSuccess(Now, early));

        Assert.Equal(CircuitState.HalfOpen, Health.State); // the probe's own outcome decides
        Assert.Equal(HealthTransition.None, Health.RecordSuccess(Now, probe)); // 1 of ProbesToClose 2
        Assert.Equal(CircuitState.Open, Health.State);
    }

    [Fact]
    public void Releasing_a_probe_slot_without_a_verdict_lets_the_next_request_probe_at_once()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Health.TryAdmit(Now, out bool probe));
        Assert.True(probe);
        _time.Advance(TimeSpan.FromSeconds(2)); // the probe's caller cancels 2 s later
        long released = Now;

        Health.ReleaseProbe(released);

        Assert.Equal((CircuitState.Open, released), (Health.State, Health.OpenUntil));
        Assert.True(Health.IsAvailable(released));
        Assert.True(Health.TryAdmit(released, out bool next));
        Assert.True(next);
        Assert.Equal(CircuitState.HalfOpen, Health.State);
        Assert.Equal(3L, Health.Failures); // the released attempt recorded nothing
    }

    [Fact]
    public void Releasing_a_probe_of_a_closed_circuit_changes_nothing()
    {
        long now = Now;

        Health.ReleaseProbe(now);

        Assert.Equal(CircuitState.Closed, Health.State);
        Assert.True(Health.TryAdmit(now, out bool probe));
        Assert.False(probe);
    }

    [Fact]
    public void A_closing_circuit_forgets_what_its_window_counted_while_it_was_open()
    {
        _options.ConsecutiveFailureThreshold = 100;
        _options.ProbesToClose = 1;
        _options.BreakDuration = TimeSpan.FromSeconds(10); // shorter than the 30 s window: it cannot roll on its own
        long openedAt = Now;
        for (int i = 0; i < 10; i++)
        {
            Health.RecordFailure(openedAt, FailureKind.Transient, null, probe: false); // 10 of 10 opens by ratio
        }

        for (int i = 0; i < 9; i++)
        {
            // Late failures of attempts admitted before the circuit opened: counted in the new window, no transition.
            Assert.Equal(HealthTransition.None, Health.RecordFailure(openedAt, FailureKind.Transient, null, probe: false));
        }

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(Health.TryAdmit(Now, out bool probe));
        Assert.Equal(HealthTransition.CircuitClosed, Health.RecordSuccess(Now, probe));

        // 1 of 1 failed; had the 9 late failures stayed in the window, 10 of 11 (>= 0.5 x 11) would reopen it.
        Assert.Equal(HealthTransition.None, Health.RecordFailure(Now, FailureKind.Transient, null, probe: false));
        Assert.Equal(CircuitState.Closed, Health.State);
    }
}
