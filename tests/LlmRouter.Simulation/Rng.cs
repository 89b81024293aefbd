namespace LlmRouter.Simulation;

/// <summary>
/// A small seeded generator (SplitMix64). <see cref="For"/> derives an independent stream from a seed and a key, so the
/// same request on the same provider draws the same latency and the same fault under every strategy (common random
/// numbers: strategies differ by what they route, not by luck).
/// </summary>
public struct Rng
{
    private ulong _state;

    public Rng(ulong seed)
    {
        _state = seed;
    }

    /// <summary>A stream for (seed, a, b): mixed so that neighbouring keys give unrelated streams.</summary>
    public static Rng For(int seed, long a, long b = 0)
    {
        ulong h = Mix((ulong)(uint)seed ^ 0x9E37_79B9_7F4A_7C15UL);
        h = Mix(h ^ (ulong)a);
        h = Mix(h ^ ((ulong)b * 0xD1B5_4A32_D192_ED03UL));
        return new Rng(h);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E37_79B9_7F4A_7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in (0, 1].</summary>
    public double NextOpen() => 1.0 - NextDouble();

    /// <summary>Standard normal (Box-Muller; one of the pair is dropped to keep the generator stateless beyond its counter).</summary>
    public double NextNormal() => Math.Sqrt(-2.0 * Math.Log(NextOpen())) * Math.Cos(2.0 * Math.PI * NextDouble());

    /// <summary>Log-normal with the given median (e^mu) and sigma.</summary>
    public double NextLogNormal(double median, double sigma) => median * Math.Exp(sigma * NextNormal());

    /// <summary>Exponential with the given rate.</summary>
    public double NextExponential(double rate) => -Math.Log(NextOpen()) / rate;

    /// <summary>Pareto with scale (minimum) <paramref name="scale"/> and shape <paramref name="alpha"/>.</summary>
    public double NextPareto(double scale, double alpha) => scale * Math.Pow(NextOpen(), -1.0 / alpha);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
