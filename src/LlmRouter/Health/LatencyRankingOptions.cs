namespace LlmRouter;

/// <summary>Options of the LowestLatency strategy. Every default is chosen for interactive LLM traffic; see docs/routing.md.</summary>
public sealed class LatencyRankingOptions
{
    /// <summary>
    /// Gets or sets the half-life of a latency sample: a sample this old weighs half as much as a new one. Default: 1 minute.
    /// </summary>
    public TimeSpan HalfLife { get; set; } = RouterDefaults.LatencyHalfLife;

    /// <summary>
    /// Gets or sets after how long without samples a deployment's statistics count as stale, so it is probed again
    /// like a deployment with no data. Default: 5 minutes.
    /// </summary>
    public TimeSpan StaleAfter { get; set; } = RouterDefaults.StaleAfter;

    /// <summary>Gets or sets how many samples a deployment needs before its latency is trusted. Default: 3.</summary>
    public int MinimumSamples { get; set; } = RouterDefaults.MinimumSamples;

    /// <summary>
    /// Gets or sets the share of requests (0 to 1) sent first to a random eligible deployment instead of the best one,
    /// so that a recovered or improved deployment is found again. Default: 0.02.
    /// </summary>
    public double ExplorationRate { get; set; } = RouterDefaults.ExplorationRate;

    /// <summary>
    /// Gets or sets the relative band (0.1 = 10%) within which deployments count as tied with the best;
    /// ties are spread randomly. Default: 0.10.
    /// </summary>
    public double LatencyBuffer { get; set; } = RouterDefaults.LatencyBuffer;

    /// <summary>
    /// Gets or sets the output length, in tokens, non-streaming latency is normalised to: a response longer than this
    /// counts as if it had stopped here (duration x reference / output tokens), a shorter one counts as measured. Default: 256.
    /// </summary>
    public int ReferenceOutputTokens { get; set; } = RouterDefaults.ReferenceOutputTokens;

    /// <summary>
    /// Gets or sets how many requests at once may be sent optimistically to a deployment that has no (or stale) data;
    /// further requests rank it after the measured ones. Default: 1.
    /// </summary>
    public int MaxConcurrentColdProbes { get; set; } = RouterDefaults.MaxConcurrentColdProbes;

    /// <summary>A frozen copy for a running router: every setting is a value, so a memberwise copy is complete.</summary>
    internal LatencyRankingOptions Freeze() => (LatencyRankingOptions)MemberwiseClone();
}
