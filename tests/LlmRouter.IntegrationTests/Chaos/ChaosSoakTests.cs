using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>The soak runs alone: it loads both cores, and it watches process-wide unobserved task exceptions.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoakAlone
{
    public const string Name = "Chaos soak";
}

/// <summary>
/// A chaos soak over the real OpenAI and Anthropic SDKs and the simulator: every fault the simulator has, at a few
/// percent each plus a bad stretch per provider every ten seconds, caller cancellations and abandoned streams, streaming
/// and not, 128 requests in flight, through cache, budgets and router. It asserts invariants, never timings. Size it with
/// LLMROUTER_SOAK_REQUESTS / LLMROUTER_SOAK_CONCURRENCY / LLMROUTER_SOAK_SEED; scripts/soak.sh runs it long.
/// </summary>
[Collection(SoakAlone.Name)]
public sealed class ChaosSoakTests(ITestOutputHelper output)
{
    /// <summary>
    /// The least share of requests served (answered, from the cache, or streams the caller chose to leave), among those the
    /// caller did not cancel and no budget denied. From the rates alone: an attempt fails with about 15% probability (14%
    /// of faults on every provider, plus 1% context overflows on oai-a and 0.2% 401s on oai-b), and a request fails only
    /// when all three of its attempts do, 0.15^3 = 0.3%; half the requests stream and a drop after the first chunks
    /// cannot fail over, 2% of streams on the two providers that drop mid-stream, another 0.5%. That is 99%. The bad
    /// stretches take one provider fully out for one second in six, and the health rules then take more out with it
    /// (circuits opening on five failures in a row, cooldowns on a burst of 429s), so the measured share on a 2-core machine
    /// was 88-99% over seeds 1-3 (see the notes of this soak). 80% leaves room for that spread and still fails loudly on the
    /// defects this soak is for: with one 429's Retry-After read into other failures, 11-14% of requests were served.
    /// </summary>
    private const double ServedFloor = 0.80;

    /// <summary>
    /// How much the heap may grow from just after warm-up to the end of the run (after a full collection). The router's
    /// state per deployment is fixed-size and requests are pooled; the cache holds 40 shared prompts; the simulator keeps
    /// no requests. A leak of even 200 bytes a request shows in a 200,000-request soak.
    /// </summary>
    private const long HeapGrowthBound = 48L * 1024 * 1024;

    [Fact]
    public async Task Under_every_fault_at_128_in_flight_each_request_ends_served_or_with_a_typed_error()
    {
        SoakSettings settings = SoakSettings.FromEnvironment();
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await using (ChaosRig rig = await ChaosRig.StartAsync(settings))
            {
                await SoakAsync(rig, settings);
            }

            // Faulted tasks nobody awaited surface when they are finalised.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            // HybridCache finishes a coalesced miss in the background when every caller waiting on it has cancelled, and
            // nothing observes that fetch's failure (Microsoft.Extensions.Caching.Hybrid, not LlmRouter): counted, not failed.
            Exception[] ours = [.. unobserved.Where(e => !e.ToString().Contains("DefaultHybridCache.StampedeState", StringComparison.Ordinal))];
            output.WriteLine($"soak unobserved task exceptions: {ours.Length} from LlmRouter's code, {unobserved.Count - ours.Length} from HybridCache's background fetch");
            Assert.True(ours.Length == 0, $"{ours.Length} unobserved task exception(s), first: {ours.FirstOrDefault()}");
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
    }

    private async Task SoakAsync(ChaosRig rig, SoakSettings settings)
    {
        var tally = new SoakTally();
        var driver = new SoakDriver(rig.Client, tally);
        output.WriteLine($"soak: {settings.Requests:N0} requests, {settings.Concurrency} in flight, seed {settings.Seed}, hang guard {settings.HangGuard.TotalSeconds:0} s");

        // Warm-up at low concurrency: JIT and connection set-up stall a cold process for a second, which at full concurrency
        // times out every attempt at once (a stall of the caller, not of the providers). It also fills the connection
        // pools and the first latency samples, which belong in the memory baseline.
        int warmUp = Math.Min(300, settings.Requests / 10);
        long started = Stopwatch.GetTimestamp();
        await GuardAsync(driver.RunAsync(settings.Seed, 0, warmUp, Math.Min(8, settings.Concurrency)), tally, settings.HangGuard);
        long baseline = HeapAfterFullCollection();
        await GuardAsync(driver.RunAsync(settings.Seed, warmUp, settings.Requests - warmUp, settings.Concurrency), tally, settings.HangGuard - Stopwatch.GetElapsedTime(started));
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);

        await SummariseAsync(rig, tally, elapsed);
        Assert.True(tally.ViolationCount == 0, $"{tally.ViolationCount} request(s) broke an invariant; the first:{Environment.NewLine}{string.Join(Environment.NewLine, tally.Violations)}");
        Assert.Equal(settings.Requests, tally.Total);
        Assert.True(tally.PeakInFlight >= Math.Min(settings.Concurrency, 100), $"only {tally.PeakInFlight} requests were ever in flight at once");
        AssertServedShare(tally);
        await AssertNothingLeftInFlightAsync(rig);
        await AssertBudgetsHeldAsync(rig, tally);
        await AssertEveryDeploymentRecoversAsync(rig);

        long end = HeapAfterFullCollection();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak memory: {baseline / 1048576.0:0.0} MB after warm-up, {end / 1048576.0:0.0} MB at the end (bound: +{HeapGrowthBound / 1048576} MB)"));
        Assert.True(end - baseline < HeapGrowthBound, $"the heap grew by {(end - baseline) / 1048576.0:0.0} MB over the run");
    }

    /// <summary>The heap after a blocking, compacting full collection (GC.GetTotalMemory alone was seen to read near zero).</summary>
    private static long HeapAfterFullCollection()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetGCMemoryInfo(GCKind.FullBlocking).HeapSizeBytes;
    }

    /// <summary>Waits for the run; past the guard the test fails with the requests still in flight instead of hanging.</summary>
    private static async Task GuardAsync(Task run, SoakTally tally, TimeSpan guard)
    {
        try
        {
            await run.WaitAsync(guard > TimeSpan.Zero ? guard : TimeSpan.Zero);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The soak hung: not finished after {guard.TotalSeconds:0} s. {tally.Stuck(10)}");
        }
    }

    private async Task SummariseAsync(ChaosRig rig, SoakTally tally, TimeSpan elapsed)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak: {tally.Total:N0} requests in {elapsed.TotalSeconds:0.0} s ({tally.Total / elapsed.TotalSeconds:0} a second), peak {tally.PeakInFlight} in flight"));
        foreach (string line in tally.Summary())
        {
            output.WriteLine(line);
        }

        foreach (SimulatedProvider p in rig.Server.Providers)
        {
            Deployment d = rig.Router.Deployments.Single(x => x.Name == p.Name);
            output.WriteLine($"soak provider {p.Name,-6} {p.RequestCount,9} calls; circuit {d.CircuitState}, attempts {d.AttemptCounts.Succeeded} ok / {d.AttemptCounts.Failed} failed");
        }

        LlmRouterState state = await rig.Client.GetLlmRouterStateAsync();
        output.WriteLine($"soak cache: {state.Cache}");
        foreach (BudgetUsage usage in state.Budgets ?? [])
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak budget {usage.Account.Key,-32} spent ${usage.SpentUsd:0.000000} of ${usage.Account.Limit:0.######}, reserved ${usage.ReservedUsd:0.000000}"));
        }
    }

    private void AssertServedShare(SoakTally tally)
    {
        long served = tally[SoakOutcome.Served] + tally[SoakOutcome.ServedFromCache] + tally[SoakOutcome.Abandoned];
        long eligible = tally.Total - tally[SoakOutcome.Cancelled] - tally[SoakOutcome.BudgetDenied];
        double share = (double)served / eligible;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak served share: {share:P2} of {eligible:N0} requests neither cancelled nor denied (floor {ServedFloor:P0})"));
        Assert.True(share >= ServedFloor, $"served {share:P2}, below the floor of {ServedFloor:P0}");
        Assert.True(tally[SoakOutcome.Cancelled] > 0, "no request was cancelled: the mix lost its cancellations");
    }

    /// <summary>Once every request has ended, no half-open probe or cold-probe slot is still taken (hedges cancelled late included).</summary>
    private static async Task AssertNothingLeftInFlightAsync(ChaosRig rig)
    {
        await Eventually.Until(
            () => rig.Router.Deployments.All(d => d.CircuitState != CircuitState.HalfOpen && d.Stats.ColdProbesInFlight == 0),
            TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// No reservation is left behind, the capped scope never spent more than its limit plus one reservation (the
    /// documented bound for scope budgets), and ant-b's own budget never more than its limit plus the cost of the
    /// attempts in flight when it ran out (deployment budgets are charged after the fact: at most every request in
    /// flight, each with a hedge, at the dearest request's cost).
    /// </summary>
    private async Task AssertBudgetsHeldAsync(ChaosRig rig, SoakTally tally)
    {
        var budgets = rig.Client.GetService<BudgetChatClient>()!;
        await Eventually.Until(async () => (await budgets.GetUsageAsync()).All(u => u.ReservedUsd == 0), TimeSpan.FromSeconds(10));
        IReadOnlyList<BudgetUsage> usage = await budgets.GetUsageAsync();

        BudgetUsage capped = usage.Single(u => u.Account.Owner == ChaosRig.CappedScope);
        Assert.True(tally[SoakOutcome.BudgetDenied] > 0, "the capped scope's budget never ran out");
        Assert.InRange(tally.MaxBudgetRequestUsd, 0.000_001m, 0.01m);
        Assert.True(capped.SpentUsd <= capped.Account.Limit + tally.MaxBudgetRequestUsd, $"capped scope spent {capped.SpentUsd} against {capped.Account.Limit} + one reservation {tally.MaxBudgetRequestUsd}");

        BudgetUsage deployment = usage.Single(u => u.Account is { IsDeployment: true, Owner: "ant-b" });
        decimal inFlight = 2 * rig.Settings.Concurrency * tally.MaxRequestCostUsd;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"soak budget bounds: capped over by {capped.SpentUsd - capped.Account.Limit:0.000000} (one reservation {tally.MaxBudgetRequestUsd:0.000000}); ant-b over by {deployment.SpentUsd - deployment.Account.Limit:0.000000} (in flight {inFlight:0.000000})"));
        Assert.True(rig.Router.Deployments.Single(d => d.Name == "ant-b").IsOutOfBudget, "ant-b's budget never ran out");
        Assert.True(deployment.SpentUsd <= deployment.Account.Limit + inFlight, $"ant-b spent {deployment.SpentUsd} against {deployment.Account.Limit} + in flight {inFlight}");
    }

    /// <summary>
    /// With faults off and time moved past every break, cooldown and budget window, each deployment serves its own route,
    /// streaming and not, and its circuit ends closed: no probe slot leaked during the run keeps it out.
    /// </summary>
    private static async Task AssertEveryDeploymentRecoversAsync(ChaosRig rig)
    {
        rig.Heal();
        rig.Time.Shift(TimeSpan.FromHours(25));
        foreach ((string name, _, _) in ChaosRig.Deployments)
        {
            for (int i = 0; i < 4; i++)
            {
                ChatOptions options = new ChatOptions { ModelId = "only-" + name }.WithCacheControl(new CacheControl { NoStore = true });
                ChatMessage[] prompt = [new(ChatRole.User, $"After the soak {i}")];
                RoutingReport? report = i % 2 == 0
                    ? (await rig.Client.GetResponseAsync(prompt, options)).GetRoutingReport()
                    : (await rig.Client.GetStreamingResponseAsync(prompt, options).ToChatResponseAsync()).GetRoutingReport();
                Assert.Equal(name, report?.Deployment);
            }

            Deployment d = rig.Router.Deployments.Single(x => x.Name == name);
            Assert.Equal((CircuitState.Closed, false), (d.CircuitState, d.IsOutOfBudget));
        }
    }
}
