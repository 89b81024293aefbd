namespace LlmRouter.Health.Internal;

/// <summary>
/// A time-decayed mean: every sample's weight halves each half-life, so old samples fade and a burst of new ones
/// dominates. Not thread-safe; <see cref="LatencyStats"/> guards it.
/// </summary>
internal struct DecayedMean
{
    private double _weight;
    private double _sum;

    /// <summary>Timestamp (TimeProvider units) of the last sample, 0 when none.</summary>
    public long LastTimestamp;

    /// <summary>Samples ever recorded.</summary>
    public long Count;

    /// <summary>The current mean, published for lock-free readers; NaN when no sample.</summary>
    public double Mean;

    public DecayedMean()
    {
        Mean = double.NaN;
    }

    public void Add(double value, long timestamp, double decayPerTick)
    {
        if (Count > 0)
        {
            long elapsed = timestamp - LastTimestamp;
            if (elapsed > 0)
            {
                // Under load samples arrive micro- to milliseconds apart against a half-life of a minute: a second-order
                // expansion is exact to 1e-10 there and avoids Math.Exp on the hot path.
                double x = elapsed * decayPerTick;
                double factor = x < 1e-3 ? 1 - x + (0.5 * x * x) : Math.Exp(-x);
                _weight *= factor;
                _sum *= factor;
            }
        }

        _weight += 1;
        _sum += value;
        LastTimestamp = timestamp;
        Count++;
        Volatile.Write(ref Mean, _sum / _weight);
    }
}
