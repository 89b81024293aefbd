namespace LlmRouter.Simulator;

/// <summary>Options of a <see cref="SimulatorServer"/>.</summary>
public sealed class SimulatorOptions
{
    /// <summary>Gets the simulated providers. At least one is required.</summary>
    public IList<SimulatedProviderOptions> Providers { get; } = [];

    /// <summary>Gets or sets the loopback port; 0 (the default) picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>Gets or sets the clock for latencies and time-based phases. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider? TimeProvider { get; set; }
}
