namespace LlmRouter.Simulation;

/// <summary>Round-robin: request n starts at provider n mod N and fails over in list order from there.</summary>
public sealed class RoundRobinStrategy(SimulationRun run) : RankingStrategy
{
    private long _next;

    public override void Score(RankingContext context, Span<double> scores)
    {
        int n = run.Scenario.Providers.Count;
        int start = (int)(_next++ % n);
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        for (int i = 0; i < candidates.Length; i++)
        {
            scores[i] = (run.ProviderOf(candidates[i]) - start + n) % n;
        }
    }
}

/// <summary>
/// LiteLLM's latency-based routing as documented: the mean of each deployment's last 10 successful latencies (time to
/// first token for streams), no decay; a deployment with none scores 0, so it is tried first; exact ties are broken at
/// random. The latencies come from the harness (<see cref="DeploymentObservations"/>).
/// </summary>
public sealed class LastTenMeanStrategy(SimulationRun run) : RankingStrategy
{
    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        for (int i = 0; i < candidates.Length; i++)
        {
            double mean = run.Observations[run.ProviderOf(candidates[i])].LastTenMean(context.IsStreaming) ?? 0;
            scores[i] = mean + (context.Random.NextDouble() * 1e-9);
        }
    }
}

/// <summary>
/// Power of two choices over a peak EWMA (the Finagle/Linkerd/tower balancer Helicone uses): two deployments drawn at
/// random, the one with the lower load (peak-EWMA response time, decayed since its last update, x calls in flight + 1)
/// first, the other second, the rest after by load. Fast failures are not response times here (the router's health
/// handles them); timed-out and cancelled calls are, with their elapsed time.
/// </summary>
public sealed class PowerOfTwoPeakEwmaStrategy(SimulationRun run) : RankingStrategy
{
    /// <summary>Decay of the EWMA (Linkerd's default).</summary>
    public static readonly TimeSpan Decay = TimeSpan.FromSeconds(10);

    /// <summary>Estimate used before a deployment's first response.</summary>
    public const double DefaultSeconds = 1.0;

    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        TimeSpan now = run.Now;
        for (int i = 0; i < candidates.Length; i++)
        {
            scores[i] = 2 + run.Observations[run.ProviderOf(candidates[i])].PeakEwmaLoad(now, Decay, DefaultSeconds);
        }

        if (candidates.Length < 2)
        {
            return;
        }

        int a = context.Random.Next(candidates.Length);
        int b = context.Random.Next(candidates.Length - 1);
        if (b >= a)
        {
            b++;
        }

        (int first, int second) = scores[a] <= scores[b] ? (a, b) : (b, a);
        scores[first] = 0;
        scores[second] = 1;
    }
}

/// <summary>The oracle: ranks by each provider's true mean latency at this moment (the scenario's model), a broken provider last.</summary>
public sealed class OracleStrategy(SimulationRun run) : RankingStrategy
{
    public override void Score(RankingContext context, Span<double> scores)
    {
        ReadOnlySpan<Deployment> candidates = context.Candidates;
        TimeSpan now = run.Now;
        for (int i = 0; i < candidates.Length; i++)
        {
            int p = run.ProviderOf(candidates[i]);
            double expected = run.Scenario.ExpectedSeconds(p, now, context.IsStreaming);
            scores[i] = run.Scenario.IsBroken(p, now) ? 1e6 + expected : expected;
        }
    }
}
