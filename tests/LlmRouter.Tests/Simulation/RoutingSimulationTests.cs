using LlmRouter.Simulation;

namespace LlmRouter.Tests.Simulation;

/// <summary>
/// Smoke tests of the routing simulation (tests/LlmRouter.Simulation): it is exactly reproducible, and the router's
/// default strategy leaves a broken provider quickly. Quick mode (2,000 requests, about 250 virtual seconds) runs in
/// well under a second per strategy; bounds are generous, the full run's numbers are in docs/benchmarks.md.
/// </summary>
public class RoutingSimulationTests
{
    private static StrategySpec Strategy(string key) => Strategies.Select([key])[0];

    [Fact]
    public void The_same_seed_gives_identical_runs()
    {
        Scenario scenario = Scenario.Default(requests: 2_000, seed: 7);

        RunResult first = SimulationRun.Execute(scenario, Strategy("lowest-latency"));
        RunResult second = SimulationRun.Execute(scenario, Strategy("lowest-latency"));

        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(first.TotalCost, second.TotalCost);
        Assert.Equal(first.SortedLatencies, second.SortedLatencies);
        Assert.All(first.Requests, r => Assert.True(r.Completed));
    }

    [Fact]
    public void A_different_seed_gives_a_different_run()
    {
        RunResult a = SimulationRun.Execute(Scenario.Default(requests: 500, seed: 1), Strategy("random"));
        RunResult b = SimulationRun.Execute(Scenario.Default(requests: 500, seed: 2), Strategy("random"));

        Assert.NotEqual(a.Digest, b.Digest);
    }

    [Fact]
    public void Streaming_requests_run_inline_and_reproducibly()
    {
        // Half the requests stream: the router's async iterator and the simulated streams must also continue on the
        // loop thread at their virtual times (a run that does not throws).
        Scenario scenario = Scenario.Default(requests: 800, seed: 3, streamingShare: 0.5);

        RunResult first = SimulationRun.Execute(scenario, Strategy("lowest-latency"));
        RunResult second = SimulationRun.Execute(scenario, Strategy("lowest-latency"));

        Assert.Equal(first.Digest, second.Digest);
        Assert.Contains(first.Requests, r => r.Streaming && r.Succeeded && r.Latency < r.Total);
        Assert.True(first.SuccessRate > 0.99, $"success rate {first.SuccessRate}");
    }

    [Fact]
    public void LowestLatency_moves_traffic_off_the_broken_provider()
    {
        Scenario scenario = Scenario.Default(requests: 2_000, seed: 1);
        RunResult run = SimulationRun.Execute(scenario, Strategy("lowest-latency"));

        (int? firstOff, _, _, int hits, int outageRequests) = run.OutageConvergence();
        Assert.NotNull(firstOff);
        Assert.InRange(firstOff.Value, 0, 100);
        Assert.InRange(hits, 0, outageRequests / 5);

        // In the second half of the outage almost nothing goes to the broken provider, against a quarter at random.
        Outage outage = scenario.Outage;
        TimeSpan middle = outage.Phase.Start + ((outage.Phase.End - outage.Phase.Start) / 2);
        RequestRecord[] late = [.. run.Requests.Where(r => r.Arrival >= middle && r.Arrival < outage.Phase.End)];
        int lateHits = late.Count(r => (r.AttemptedMask & (1 << outage.Provider)) != 0);
        Assert.True(lateHits <= late.Length / 10, $"{lateHits} of {late.Length} late outage requests called the broken provider");
        Assert.True(run.SuccessRate > 0.99, $"success rate {run.SuccessRate}");
    }

    [Fact]
    public void LowestLatency_p50_is_near_the_oracle_and_below_random()
    {
        Scenario scenario = Scenario.Default(requests: 2_000, seed: 1);
        IReadOnlyList<RunResult> runs = Comparison.Run(scenario, Strategies.Select(["lowest-latency", "random", "oracle"]), parallelism: 3);
        double ours = runs[0].Percentile(0.5);
        double random = runs[1].Percentile(0.5);
        double oracle = runs[2].Percentile(0.5);

        Assert.True(ours <= oracle * 1.25, $"p50 {ours:0.00} s against the oracle's {oracle:0.00} s");
        Assert.True(ours < random, $"p50 {ours:0.00} s against random's {random:0.00} s");
    }

    [Fact]
    public void Hedging_runs_inline_and_reproducibly()
    {
        Scenario scenario = Scenario.Default(requests: 2_000, seed: 5);

        RunResult first = SimulationRun.Execute(scenario, Strategy("hedging"));
        RunResult second = SimulationRun.Execute(scenario, Strategy("hedging"));

        Assert.Equal(first.Digest, second.Digest);
        Assert.True(first.MultiAttemptShare > 0, "no request was hedged");
    }

    [Fact]
    public void Simulated_errors_classify_like_real_ones() => ProviderErrors.Verify();
}
