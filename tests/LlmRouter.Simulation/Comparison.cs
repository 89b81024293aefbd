namespace LlmRouter.Simulation;

/// <summary>One row's run: its result, or why it has none.</summary>
public sealed record RunOutcome(StrategySpec Strategy, RunResult? Result, Exception? Error);

/// <summary>Runs several strategies over the same scenario. Each run is single-threaded and independent, so runs can go in parallel.</summary>
public static class Comparison
{
    /// <summary>Runs every strategy over the scenario, at most <paramref name="parallelism"/> at a time; results in the strategies' order.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <param name="strategies">The rows to run.</param>
    /// <param name="parallelism">How many runs at once (each on its own thread).</param>
    /// <param name="traceKey">The strategy whose run writes the router's view of its deployments to <paramref name="trace"/>.</param>
    /// <param name="trace">Where that trace goes.</param>
    /// <returns>One outcome per strategy: a row that fails (or cannot run deterministically) does not stop the others.</returns>
    public static IReadOnlyList<RunOutcome> TryRun(Scenario scenario, IReadOnlyList<StrategySpec> strategies, int parallelism = 1, string? traceKey = null, TextWriter? trace = null)
    {
        ArgumentNullException.ThrowIfNull(strategies);
        var outcomes = new RunOutcome[strategies.Count];
        Parallel.For(0, strategies.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism) }, i =>
        {
            StrategySpec strategy = strategies[i];
            try
            {
                outcomes[i] = new RunOutcome(strategy, SimulationRun.Execute(scenario, strategy, strategy.Key == traceKey ? trace : null), null);
            }
            catch (Exception ex) when (ex is NonDeterministicRunException or InvalidOperationException)
            {
                outcomes[i] = new RunOutcome(strategy, null, ex);
            }
        });
        return outcomes;
    }

    /// <summary>As <see cref="TryRun"/>, throwing when any row fails.</summary>
    public static IReadOnlyList<RunResult> Run(Scenario scenario, IReadOnlyList<StrategySpec> strategies, int parallelism = 1)
    {
        IReadOnlyList<RunOutcome> outcomes = TryRun(scenario, strategies, parallelism);
        Exception[] errors = [.. outcomes.Select(o => o.Error).OfType<Exception>()];
        return errors.Length > 0 ? throw new AggregateException(errors) : [.. outcomes.Select(o => o.Result!)];
    }
}
