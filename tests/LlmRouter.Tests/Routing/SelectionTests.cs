using System.Buffers;
using LlmRouter.Routing.Internal;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// <see cref="Selection"/> driven directly: which deployments <see cref="Selection.Initialize"/> keeps and how it counts
/// the others, and the order <see cref="Selection.Next"/> hands them out in.
/// </summary>
public class SelectionTests
{
    private readonly SelectionHarness _h = new();

    private static FixedScores Scores(params (string Name, double Score)[] scores) =>
        new(scores.ToDictionary(s => s.Name, s => s.Score));

    [Fact]
    public void Constraints_on_region_zero_data_retention_and_tags_leave_out_deployments_without_counting_them()
    {
        _h.Add("eu", d => { d.Region = "eu"; d.ZeroDataRetention = true; d.Tags.Add("vision"); });
        _h.Add("us", d => { d.Region = "us"; d.ZeroDataRetention = true; d.Tags.Add("vision"); });
        _h.Add("eu-retains", d => { d.Region = "eu"; d.Tags.Add("vision"); });
        _h.Add("eu-untagged", d => { d.Region = "eu"; d.ZeroDataRetention = true; });
        Deployment[] all = [.. _h.Deployments];
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), all);
        RequestScope scope = _h.Scope();
        scope.Constraints = new RouteConstraints { Regions = ["eu"], RequireZeroDataRetention = true, RequiredTags = ["vision"] };
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);
        List<Pick> picks = SelectionHarness.Drain(ref selection, in scope, _h.Now);
        selection.Dispose();

        Assert.Equal(["eu"], SelectionHarness.Names(picks));
        Assert.Equal((1, 0, 0), (selection.Matching, selection.TooSmall, selection.OverBudget));
        Assert.Empty(unavailable.Names);
    }

    [Fact]
    public void A_deployment_outside_the_constraints_is_not_reported_unavailable_even_when_cooling_down()
    {
        Deployment eu = _h.Add("eu", d => d.Region = "eu");
        Deployment us = _h.Add("us", d => d.Region = "us");
        us.Health.RecordFailure(_h.Now, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true);
        RequestScope scope = _h.Scope();
        scope.Constraints = new RouteConstraints { Regions = ["eu"] };
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), eu, us), in scope, _h.Now, ref unavailable);

        Assert.Equal(["eu"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal(1, selection.Matching);
        Assert.Empty(unavailable.Names);
        Assert.Null(unavailable.LeastRecentlyFailed);
        selection.Dispose();
    }

    [Fact]
    public void A_known_context_window_too_small_for_the_prompt_counts_in_TooSmall_and_is_never_picked()
    {
        Deployment small = _h.Add("small", d => d.ContextWindow = 4_999);
        Deployment exact = _h.Add("exact", d => d.ContextWindow = 5_000);
        Deployment unknown = _h.Add("unknown");
        Deployment large = _h.Add("large", d => d.ContextWindow = 128_000);
        RequestScope scope = _h.Scope();
        scope.RequiredContext = 5_000;
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), small, exact, unknown, large), in scope, _h.Now, ref unavailable);
        List<Pick> picks = SelectionHarness.Drain(ref selection, in scope, _h.Now);
        selection.Dispose();

        // A window that fits exactly is kept; an unknown window may fit, so it is tried.
        Assert.Equal(["exact", "unknown", "large"], SelectionHarness.Names(picks));
        Assert.Equal((3, 1), (selection.Matching, selection.TooSmall));
    }

    [Fact]
    public void After_a_context_overflow_windows_below_the_minimum_and_unknown_ones_are_left_out_without_counting()
    {
        Deployment small = _h.Add("small", d => d.ContextWindow = 8_000);
        Deployment unknown = _h.Add("unknown");
        Deployment large = _h.Add("large", d => d.ContextWindow = 128_000);
        RequestScope scope = _h.Scope();
        scope.MinContextWindow = 8_001;
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), small, unknown, large), in scope, _h.Now, ref unavailable);

        Assert.Equal(["large"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal((1, 0, 0), (selection.Matching, selection.TooSmall, selection.OverBudget));
        selection.Dispose();
    }

    [Fact]
    public void A_deployment_held_out_counts_in_OverBudget_until_the_hold_ends()
    {
        Deployment held = _h.Add("held");
        Deployment free = _h.Add("free");
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), held, free);
        held.Hold.HoldUntil(_h.Time.GetUtcNow() + TimeSpan.FromMinutes(1));
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);
        RequestScope scope = _h.Scope();

        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);

        Assert.Equal(["free"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal((1, 1), (selection.Matching, selection.OverBudget));
        Assert.Empty(unavailable.Names); // a hold is not a health problem: no last-resort attempt on it
        selection.Dispose();

        _h.Time.Advance(TimeSpan.FromMinutes(1));
        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);

        Assert.Equal(["held", "free"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal((2, 0), (selection.Matching, selection.OverBudget));
        selection.Dispose();
    }

    [Fact]
    public void When_every_deployment_is_held_out_Next_returns_null_at_once()
    {
        Deployment a = _h.Add("a");
        Deployment b = _h.Add("b");
        a.Hold.HoldUntil(DateTimeOffset.MaxValue);
        b.Hold.HoldUntil(DateTimeOffset.MaxValue);
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);
        RequestScope scope = _h.Scope();

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), a, b), in scope, _h.Now, ref unavailable);

        Assert.Null(selection.Next(in scope, _h.Now, out Pick pick));
        Assert.Equal(default, pick);
        Assert.Equal((0, 2), (selection.Matching, selection.OverBudget));
        selection.Dispose();
    }

    [Fact]
    public void Deployments_already_tried_in_the_request_count_in_Matching_but_are_skipped_even_when_unavailable()
    {
        Deployment a = _h.Add("a");
        Deployment b = _h.Add("b");
        Deployment c = _h.Add("c");
        b.Health.RecordFailure(_h.Now, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true);
        RequestScope scope = _h.Scope();
        scope.MarkTried(a);
        scope.MarkTried(b);
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), a, b, c), in scope, _h.Now, ref unavailable);

        Assert.Equal(["c"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal(3, selection.Matching);
        Assert.Empty(unavailable.Names); // b failed in this request: it is not a candidate for the last resort
        selection.Dispose();
    }

    [Fact]
    public void Cooling_down_and_open_circuit_deployments_count_in_Matching_and_go_to_the_unavailable_tracker()
    {
        Deployment broken = _h.Add("broken");
        Deployment cooling = _h.Add("cooling");
        Deployment healthy = _h.Add("healthy");
        _h.OpenCircuit(broken); // open for the 30 s break
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        long cooledAt = _h.Now;
        cooling.Health.RecordFailure(cooledAt, FailureKind.RateLimited, retryAfter: null, probe: false, limitUsedUp: true); // 5 s cooldown
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), broken, cooling, healthy);
        RequestScope scope = _h.Scope();
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);

        Assert.Equal(["healthy"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal(3, selection.Matching);
        Assert.Equal(["broken", "cooling"], unavailable.Names);
        Assert.Equal(cooledAt + _h.Clock.ToTicks(TimeSpan.FromSeconds(5)), unavailable.EarliestAvailable);
        Assert.Same(broken, unavailable.LeastRecentlyFailed);
        selection.Dispose();

        // The cooldown ends before the circuit's break: "cooling" is a candidate again, "broken" is not yet.
        _h.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(["cooling", "healthy"], SelectionHarness.Names(_h.SelectAll(route, scope)));
    }

    [Fact]
    public void Next_hands_out_every_candidate_once_lowest_score_first_then_null()
    {
        Deployment a = _h.Add("a");
        Deployment b = _h.Add("b");
        Deployment c = _h.Add("c");
        CompiledRoute route = SelectionHarness.Route(Scores(("a", 3), ("b", 1), ("c", 2)), a, b, c);
        RequestScope scope = _h.Scope();
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);
        List<Pick> picks = SelectionHarness.Drain(ref selection, in scope, _h.Now);

        Assert.Equal(["b", "c", "a"], SelectionHarness.Names(picks));
        Assert.All(picks, p => Assert.False(p.CircuitProbe || p.ColdProbe));
        Assert.Null(selection.Next(in scope, _h.Now, out _)); // stays exhausted
        selection.Dispose();
    }

    [Fact]
    public void Equal_scores_are_handed_out_in_the_routes_listed_order()
    {
        Deployment[] d = _h.AddMany(4);
        CompiledRoute route = SelectionHarness.Route(Scores(("d0", 2), ("d1", 1), ("d2", 2), ("d3", 1)), d);

        Assert.Equal(["d1", "d3", "d0", "d2"], SelectionHarness.Names(_h.SelectAll(route, _h.Scope())));
    }

    [Fact]
    public void A_custom_strategys_NaN_and_infinite_scores_are_handed_out_last_not_dropped()
    {
        Deployment[] d = _h.AddMany(4);
        CompiledRoute route = SelectionHarness.Route(
            Scores(("d0", double.NaN), ("d1", 5), ("d2", double.PositiveInfinity), ("d3", 1)), d);

        string[] order = SelectionHarness.Names(_h.SelectAll(route, _h.Scope()));

        Assert.Equal(["d3", "d1"], order[..2]);
        Assert.Equal(["d0", "d2"], order[2..].Order());
    }

    [Fact]
    public void A_deployment_at_its_requests_per_minute_ranks_after_every_one_with_room_in_the_strategys_order()
    {
        // 6 a minute with a ten-second burst: one request fills it.
        Deployment limited1 = _h.Add("limited1", d => d.RequestsPerMinute = 6);
        Deployment free = _h.Add("free");
        Deployment limited2 = _h.Add("limited2", d => d.RequestsPerMinute = 6);
        Deployment roomy = _h.Add("roomy", d => d.RequestsPerMinute = 600);
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), limited1, free, limited2, roomy);
        limited1.RateLimits.Use(_h.Now, 0);
        limited2.RateLimits.Use(_h.Now, 0);
        roomy.RateLimits.Use(_h.Now, 0);

        List<Pick> picks = _h.SelectAll(route, _h.Scope());

        Assert.Equal(["free", "roomy", "limited1", "limited2"], SelectionHarness.Names(picks));
        Assert.Equal([("chat", "limited1"), ("chat", "limited2")], _h.Observer.Deferred);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Each_pick_counts_against_the_deployments_rate_limit(bool requestLimit)
    {
        // One request, or one prompt of 100 tokens at 600 tokens a minute, fills a ten-second burst.
        Deployment limited = _h.Add("limited", d =>
        {
            if (requestLimit)
            {
                d.RequestsPerMinute = 6;
            }
            else
            {
                d.TokensPerMinute = 600;
            }
        });
        Deployment other = _h.Add("other");
        CompiledRoute route = SelectionHarness.Route(new OrderedStrategy(), limited, other);
        RequestScope scope = _h.Scope();
        scope.PromptTokens = 100;
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, route, in scope, _h.Now, ref unavailable);
        Assert.Same(limited, selection.Next(in scope, _h.Now, out _));
        selection.Dispose();

        Assert.Equal(["other", "limited"], SelectionHarness.Names(_h.SelectAll(route, scope)));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(Selection.InlineCapacity)]
    [InlineData(Selection.InlineCapacity + 1)]
    [InlineData(40)]
    public void Routes_of_any_size_filter_count_and_order_the_same(int size)
    {
        // Scores descend with the listed order, every third deployment is too small, the first one is held out.
        var scores = new Dictionary<string, double>();
        for (int i = 0; i < size; i++)
        {
            scores[$"d{i}"] = size - i;
            _h.Add($"d{i}", d => d.ContextWindow = i % 3 == 1 ? 1_000 : 100_000);
        }

        Deployment[] members = [.. _h.Deployments];
        members[0].Hold.HoldUntil(DateTimeOffset.MaxValue);
        RequestScope scope = _h.Scope();
        scope.RequiredContext = 2_000;
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new FixedScores(scores), members), in scope, _h.Now, ref unavailable);
        List<Pick> picks = SelectionHarness.Drain(ref selection, in scope, _h.Now);

        int[] fitting = [.. Enumerable.Range(1, size - 1).Where(i => i % 3 != 1)];
        string[] expected = [.. fitting.Reverse().Select(i => $"d{i}")];
        Assert.Equal(expected, SelectionHarness.Names(picks));
        Assert.Equal(fitting.Length, selection.Matching);
        Assert.Equal(Enumerable.Range(0, size).Count(i => i % 3 == 1), selection.TooSmall);
        Assert.Equal(1, selection.OverBudget);

        selection.Dispose();
        selection.Dispose(); // twice is harmless: nothing is returned to the pool again
        Assert.Null(selection.Next(in scope, _h.Now, out _));

        // An array returned twice would be handed to two renters at once.
        Deployment[] rented1 = ArrayPool<Deployment>.Shared.Rent(size);
        Deployment[] rented2 = ArrayPool<Deployment>.Shared.Rent(size);
        double[] scores1 = ArrayPool<double>.Shared.Rent(size);
        double[] scores2 = ArrayPool<double>.Shared.Rent(size);
        Assert.NotSame(rented1, rented2);
        Assert.NotSame(scores1, scores2);
        ArrayPool<Deployment>.Shared.Return(rented1);
        ArrayPool<Deployment>.Shared.Return(rented2);
        ArrayPool<double>.Shared.Return(scores1);
        ArrayPool<double>.Shared.Return(scores2);
    }

    [Fact]
    public void A_selection_disposed_after_a_large_route_serves_a_small_route_next()
    {
        // As a request does when it moves from a large route to a small fallback route.
        Deployment[] large = _h.AddMany(Selection.InlineCapacity + 3);
        Deployment x = _h.Add("x");
        Deployment y = _h.Add("y");
        RequestScope scope = _h.Scope();
        var unavailable = default(UnavailableTracker);
        var selection = default(Selection);

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), large), in scope, _h.Now, ref unavailable);
        Assert.Same(large[0], selection.Next(in scope, _h.Now, out _));
        selection.Dispose();
        selection.Dispose();

        Selection.Initialize(ref selection, SelectionHarness.Route(new OrderedStrategy(), x, y), in scope, _h.Now, ref unavailable);
        Assert.Equal(["x", "y"], SelectionHarness.Names(SelectionHarness.Drain(ref selection, in scope, _h.Now)));
        Assert.Equal(2, selection.Matching);
        selection.Dispose();
    }
}
