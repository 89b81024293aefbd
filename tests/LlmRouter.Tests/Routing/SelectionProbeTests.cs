using LlmRouter.Routing.Internal;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// What <see cref="Selection.Next"/> does beyond the score order: bounded cold probes, the one half-open circuit probe,
/// and prefix affinity. Each selection that is not disposed stands for a request still in flight (its probe slots held).
/// </summary>
public class SelectionProbeTests
{
    private readonly SelectionHarness _h = new();

    /// <summary>Initializes a selection now and returns its first pick, leaving it in flight (slots held).</summary>
    private Pick First(CompiledRoute route, RequestScope scope)
    {
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);
        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);
        Assert.NotNull(selection.Next(in scope, _h.Now, out Pick pick));
        selection.Dispose();
        return pick;
    }

    [Fact]
    public void LowestLatency_sends_one_request_at_a_time_to_a_cold_deployment_and_the_others_to_measured_ones_first()
    {
        Deployment fast = _h.Add("fast");
        Deployment slow = _h.Add("slow");
        Deployment cold = _h.Add("cold");
        _h.Measure(fast, 1.0);
        _h.Measure(slow, 2.0);
        CompiledRoute route = SelectionHarness.Route(_h.LowestLatency(), fast, slow, cold);

        List<Pick> probing = _h.SelectAll(route, _h.Scope());
        List<Pick> concurrent = _h.SelectAll(route, _h.Scope());

        Assert.Equal(["cold", "fast", "slow"], SelectionHarness.Names(probing));
        Assert.True(probing[0].ColdProbe);

        // The probe slot is taken: the cold deployment ranks after the measured ones and is no probe when reached.
        Assert.Equal(["fast", "slow", "cold"], SelectionHarness.Names(concurrent));
        Assert.All(concurrent, p => Assert.False(p.ColdProbe));
    }

    [Fact]
    public void MaxConcurrentColdProbes_requests_probe_a_cold_deployment_at_once_and_a_released_slot_admits_the_next()
    {
        _h.Options.LatencyRanking.MaxConcurrentColdProbes = 2;
        Deployment measured = _h.Add("measured");
        Deployment cold = _h.Add("cold");
        _h.Measure(measured, 1.0);
        CompiledRoute route = SelectionHarness.Route(_h.LowestLatency(), measured, cold);

        Pick first = First(route, _h.Scope());
        Pick second = First(route, _h.Scope());
        Pick third = First(route, _h.Scope());

        Assert.Equal((cold, true), (first.Deployment, first.ColdProbe));
        Assert.Equal((cold, true), (second.Deployment, second.ColdProbe));
        Assert.Equal((measured, false), (third.Deployment, third.ColdProbe));

        cold.Stats.ReleaseColdProbe(); // one probe ended (as RoutedRequest does with its outcome)
        Pick fourth = First(route, _h.Scope());
        Assert.Equal((cold, true), (fourth.Deployment, fourth.ColdProbe));
    }

    [Fact]
    public void When_only_cold_deployments_with_busy_probe_slots_remain_they_are_still_handed_out_spread_at_random()
    {
        // A custom strategy with the default SelectFirst (the first listed among equal scores) that asks for bounded probes.
        Deployment[] cold = _h.AddMany(3);
        CompiledRoute route = SelectionHarness.Route(new FixedScores(new Dictionary<string, double>(), limitsColdProbes: true), cold);
        List<Pick> probes = _h.SelectAll(route, _h.Scope());
        Assert.All(probes, p => Assert.True(p.ColdProbe)); // every slot is now held

        var firsts = new List<string>();
        for (int seed = 0; seed < 60; seed++)
        {
            List<Pick> picks = _h.SelectAll(route, _h.Scope(seed));
            Assert.Equal(["d0", "d1", "d2"], SelectionHarness.Names(picks).Order());
            Assert.All(picks, p => Assert.False(p.ColdProbe));
            firsts.Add(picks[0].Deployment.Name);
        }

        // Not piled onto the first listed: each gets a share of the first picks.
        Assert.All(["d0", "d1", "d2"], n => Assert.InRange(firsts.Count(f => f == n), 8, 40));
    }

    [Fact]
    public void A_strategy_that_does_not_limit_cold_probes_sends_every_request_to_its_best_cold_deployment_without_slots()
    {
        Deployment first = _h.Add("first");
        Deployment second = _h.Add("second");
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), first, second);

        for (int i = 0; i < 5; i++)
        {
            Pick pick = First(route, _h.Scope());
            Assert.Equal((first, false), (pick.Deployment, pick.ColdProbe));
        }

        Assert.True(first.Stats.TryAcquireColdProbe(1)); // no slot was taken
    }

    [Fact]
    public void A_cold_probe_slot_is_given_back_when_the_deployment_turns_unavailable_before_it_is_picked()
    {
        Deployment cold = _h.Add("cold");
        Deployment measured = _h.Add("measured");
        _h.Measure(measured, 1.0);
        RequestScope scope = _h.Scope();
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);
        Selection.Initialize(ref selection, SelectionHarness.Route(_h.LowestLatency(), cold, measured), in scope, _h.Now, ref unavailable);

        // Another request's 429 cools it down between this request's ranking and its pick.
        cold.Health.RecordFailure(_h.Now, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true);

        Assert.Equal(["measured"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.True(cold.Stats.TryAcquireColdProbe(1));
        selection.Dispose();
    }

    [Fact]
    public void An_open_circuit_past_its_break_admits_exactly_one_pick_as_the_probe()
    {
        Deployment broken = _h.Add("broken");
        Deployment spare = _h.Add("spare");
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), broken, spare);
        _h.OpenCircuit(broken);
        Assert.Equal(["spare"], SelectionHarness.Names(_h.SelectAll(route, _h.Scope())));

        _h.Time.Advance(TimeSpan.FromSeconds(30));
        RequestScope scope = _h.Scope();
        var unavailable = default(UnavailableTracker);
        var probing = default(Selection);
        var concurrent = default(Selection);
        Selection.Initialize(ref probing, route, in scope, _h.Now, ref unavailable);
        Selection.Initialize(ref concurrent, route, in scope, _h.Now, ref unavailable);

        List<Pick> probe = SelectionHarness.Drain(ref probing, in scope, _h.Now);
        List<Pick> other = SelectionHarness.Drain(ref concurrent, in scope, _h.Now);

        Assert.Equal(["broken", "spare"], SelectionHarness.Names(probe));
        Assert.Equal([true, false], probe.Select(p => p.CircuitProbe));
        Assert.Equal(2, concurrent.Matching); // both saw it eligible...
        Assert.Equal(["spare"], SelectionHarness.Names(other)); // ...one got the probe
        Assert.Equal(CircuitState.HalfOpen, broken.CircuitState);
        probing.Dispose();
        concurrent.Dispose();

        // A probe that ends without a verdict frees the circuit for the next request's probe.
        broken.Health.ReleaseProbe(_h.Now);
        Pick next = First(route, _h.Scope());
        Assert.Equal((broken, true), (next.Deployment, next.CircuitProbe));
    }

    [Fact]
    public void LowestLatency_tries_an_open_circuit_past_its_break_first_even_when_it_was_measured_slow()
    {
        Deployment broken = _h.Add("broken");
        Deployment fast = _h.Add("fast");
        _h.Measure(broken, 5.0);
        _h.Measure(fast, 1.0);
        _h.OpenCircuit(broken);
        CompiledRoute route = SelectionHarness.Route(_h.LowestLatency(), broken, fast);
        _h.Time.Advance(TimeSpan.FromSeconds(30));

        Pick probe = First(route, _h.Scope());
        Pick next = First(route, _h.Scope());

        Assert.Equal((broken, true, false), (probe.Deployment, probe.CircuitProbe, probe.ColdProbe));
        Assert.Equal((fast, false), (next.Deployment, next.CircuitProbe));
    }

    private CompiledRoute AffinityRoute(out Deployment[] nearTies, out Deployment far)
    {
        Deployment a = _h.Add("a");
        Deployment b = _h.Add("b");
        Deployment c = _h.Add("c");
        far = _h.Add("far");
        _h.Measure(a, 1.0);
        _h.Measure(b, 1.2);
        _h.Measure(c, 1.4); // within 50% of the best
        _h.Measure(far, 1.6); // not
        nearTies = [a, b, c];
        return new CompiledRoute("chat", [far, c, b, a], _h.LowestLatency(), maxAttempts: null)
        {
            PrefixAffinity = new PrefixAffinityOptions { LatencyTolerance = 0.5 },
        };
    }

    private static ulong Hash(int i) => (ulong)(i + 1) * 0x9E3779B97F4A7C15UL;

    [Fact]
    public void Prefix_affinity_picks_the_same_deployment_for_the_same_prefix_among_the_near_ties_and_spreads_prefixes()
    {
        CompiledRoute route = AffinityRoute(out Deployment[] nearTies, out Deployment far);

        var homes = new Dictionary<string, int>();
        for (int i = 0; i < 90; i++)
        {
            RequestScope scope = _h.Scope(seed: i);
            scope.PrefixHash = Hash(i);
            List<Pick> picks = _h.SelectAll(route, scope);
            string home = picks[0].Deployment.Name;
            homes[home] = homes.GetValueOrDefault(home) + 1;

            // Failover after the prefix's deployment follows the scores.
            Assert.Equal([.. new[] { "a", "b", "c", "far" }.Where(n => n != home)], SelectionHarness.Names(picks)[1..]);

            // The same prefix again, with another random source: the same deployment.
            RequestScope again = _h.Scope(seed: 1_000 + i);
            again.PrefixHash = Hash(i);
            Assert.Equal(home, SelectionHarness.Names(_h.SelectAll(route, again))[0]);
        }

        Assert.DoesNotContain(far.Name, homes.Keys);
        Assert.All(nearTies, d => Assert.InRange(homes.GetValueOrDefault(d.Name), 15, 50));
    }

    [Fact]
    public void Without_a_prefix_hash_the_best_score_is_picked_first()
    {
        CompiledRoute route = AffinityRoute(out Deployment[] nearTies, out _);

        for (int seed = 0; seed < 10; seed++)
        {
            Assert.Same(nearTies[0], _h.SelectAll(route, _h.Scope(seed))[0].Deployment);
        }
    }

    [Fact]
    public void A_prefix_moves_off_its_deployment_while_it_is_unavailable_and_comes_back_when_it_recovers()
    {
        CompiledRoute route = AffinityRoute(out Deployment[] nearTies, out _);
        RequestScope scope = _h.Scope();

        // A prefix at home on the slowest of the near-ties, so only affinity sends it there.
        Deployment home = nearTies[2];
        scope.PrefixHash = Enumerable.Range(0, 100).Select(Hash).FirstOrDefault(hash =>
        {
            RequestScope probe = _h.Scope();
            probe.PrefixHash = hash;
            return _h.SelectAll(route, probe)[0].Deployment == home;
        });
        Assert.NotEqual(0UL, scope.PrefixHash);

        home.Health.RecordFailure(_h.Now, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true); // 5 s cooldown
        Deployment moved = _h.SelectAll(route, scope)[0].Deployment;
        Assert.Equal(moved, _h.SelectAll(route, scope)[0].Deployment); // a stable second choice
        _h.Time.Advance(TimeSpan.FromSeconds(5));

        Assert.NotSame(home, moved);
        Assert.Same(home, _h.SelectAll(route, scope)[0].Deployment);
    }

    [Theory]
    [InlineData(Selection.InlineCapacity + 1)]
    [InlineData(24)]
    public void Prefix_affinity_on_a_route_larger_than_the_inline_buffers_is_stable_too(int size)
    {
        Deployment[] members = _h.AddMany(size);
        foreach (Deployment d in members)
        {
            _h.Measure(d, 1.0);
        }

        var route = new CompiledRoute("chat", members, _h.LowestLatency(), maxAttempts: null) { PrefixAffinity = new PrefixAffinityOptions() };
        var homes = new HashSet<string>();
        for (int i = 0; i < 40; i++)
        {
            RequestScope scope = _h.Scope(seed: i);
            scope.PrefixHash = Hash(i);
            List<Pick> first = _h.SelectAll(route, scope);
            scope.Random = new Random(1_000 + i);
            List<Pick> second = _h.SelectAll(route, scope);

            Assert.Equal(size, first.Count);
            Assert.Same(first[0].Deployment, second[0].Deployment);
            homes.Add(first[0].Deployment.Name);
        }

        Assert.True(homes.Count >= Math.Min(size, 4), $"40 prefixes went to {homes.Count} of {size} deployments");
    }
}
