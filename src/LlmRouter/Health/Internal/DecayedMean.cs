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

    /// <summary>
    /// Until when (timestamp) the decayed sample weight stays at or above the trust threshold given to
    /// <see cref="UpdateTrust"/>; earlier than any timestamp while it is below.
    /// </summary>
    public long TrustedUntil = long.MinValue;

    public DecayedMean()
    {
        Mean = double.NaN;
    }

    /// <summary>Replaces the history with one value of the given weight (the warm-up median), keeping the count.</summary>
    public void Seed(double value, double weight)
    {
        _weight = weight;
        _sum = value * weight;
        Volatile.Write(ref Mean, value);
    }

    /// <summary>
    /// Publishes until when the evidence stays sufficient: the weight w decays as w * exp(-decay * t), so it stays at or
    /// above <paramref name="threshold"/> for ln(w / threshold) / decay ticks. Computed once per sample, compared per read.
    /// </summary>
    public void UpdateTrust(double threshold, double decayPerTick)
    {
        long until = _weight >= threshold
            ? LastTimestamp + (long)Math.Min(long.MaxValue / 4, FastLn(_weight / threshold) / decayPerTick)
            : long.MinValue;
        Volatile.Write(ref TrustedUntil, until);
    }

    /// <summary>ln(x) for x >= 1 from the double's exponent and a linear mantissa: within 6% of a half-life, enough for a trust horizon, and no Math.Log per sample.</summary>
    private static double FastLn(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF) - 1023;
        double mantissa = BitConverter.Int64BitsToDouble((bits & 0x000F_FFFF_FFFF_FFFFL) | 0x3FF0_0000_0000_0000L); // in [1, 2)
        return (exponent + (mantissa - 1)) * 0.6931471805599453;
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
