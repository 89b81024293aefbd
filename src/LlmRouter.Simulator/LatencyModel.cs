namespace LlmRouter.Simulator;

/// <summary>How long a simulated provider waits before its response (non-streaming) or first chunk (streaming).</summary>
public sealed class LatencyModel
{
    private readonly Func<Random, double> _sampleMilliseconds;

    private LatencyModel(string description, Func<Random, double> sampleMilliseconds)
    {
        Description = description;
        _sampleMilliseconds = sampleMilliseconds;
    }

    /// <summary>Gets a readable description, for example "lognormal(median 40 ms, sigma 0.5)".</summary>
    public string Description { get; }

    /// <summary>Always the same delay.</summary>
    /// <param name="delay">The delay.</param>
    /// <returns>The model.</returns>
    public static LatencyModel Fixed(TimeSpan delay) =>
        new($"fixed {delay.TotalMilliseconds:0} ms", _ => delay.TotalMilliseconds);

    /// <summary>Normally distributed delays, cut at zero.</summary>
    /// <param name="mean">The mean.</param>
    /// <param name="standardDeviation">The standard deviation.</param>
    /// <returns>The model.</returns>
    public static LatencyModel Normal(TimeSpan mean, TimeSpan standardDeviation) =>
        new($"normal(mean {mean.TotalMilliseconds:0} ms, sd {standardDeviation.TotalMilliseconds:0} ms)",
            r => Math.Max(0, mean.TotalMilliseconds + (standardDeviation.TotalMilliseconds * StandardNormal(r))));

    /// <summary>Log-normally distributed delays: a median and a heavy right tail (sigma 0.5 puts p99 at about 3.2x the median).</summary>
    /// <param name="median">The median.</param>
    /// <param name="sigma">The standard deviation of the log.</param>
    /// <returns>The model.</returns>
    public static LatencyModel LogNormal(TimeSpan median, double sigma) =>
        new($"lognormal(median {median.TotalMilliseconds:0} ms, sigma {sigma})",
            r => median.TotalMilliseconds * Math.Exp(sigma * StandardNormal(r)));

    /// <summary>Draws one delay.</summary>
    /// <param name="random">The provider's seeded random source.</param>
    /// <returns>The delay.</returns>
    public TimeSpan Sample(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return TimeSpan.FromMilliseconds(_sampleMilliseconds(random));
    }

    /// <inheritdoc />
    public override string ToString() => Description;

    private static double StandardNormal(Random r)
    {
        // Box-Muller.
        double u1 = 1.0 - r.NextDouble();
        double u2 = r.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
