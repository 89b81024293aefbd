namespace LlmRouter.Health.Internal;

/// <summary>
/// A log-normal fit of a deployment's recent successful latencies (exponentially weighted mean and variance of the log,
/// about the last 30 samples), for hedging delays: a percentile is exp(mean + z * sd). Updated under the deployment's lock.
/// </summary>
internal sealed class LatencyQuantile
{
    private const double Alpha = 1.0 / 16;
    private const int MinimumSamples = 5;

    private double _mean;
    private double _variance;
    private int _count;

    public void RecordLocked(double seconds)
    {
        if (!(seconds > 0))
        {
            return;
        }

        double x = Math.Log(seconds);
        if (_count++ == 0)
        {
            _mean = x;
            return;
        }

        double diff = x - _mean;
        _mean += Alpha * diff;
        _variance = (1 - Alpha) * (_variance + (Alpha * diff * diff));
    }

    /// <summary>The latency at percentile <paramref name="p"/>, or <see langword="null"/> before enough samples.</summary>
    public TimeSpan? At(double p)
    {
        if (Volatile.Read(ref _count) < MinimumSamples)
        {
            return null;
        }

        double seconds = Math.Exp(_mean + (NormalQuantile(p) * Math.Sqrt(Math.Max(_variance, 0))));
        return TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds));
    }

    /// <summary>The standard normal quantile (inverse CDF), by Acklam's rational approximation (relative error below 1.2e-9).</summary>
    internal static double NormalQuantile(double p)
    {
        const double Low = 0.02425;
        ReadOnlySpan<double> a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        ReadOnlySpan<double> b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01, 1];
        ReadOnlySpan<double> c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        ReadOnlySpan<double> d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00, 1];
        if (p < Low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return Horner(c, q) / Horner(d, q);
        }

        if (p > 1 - Low)
        {
            return -NormalQuantile(1 - p);
        }

        double r = p - 0.5;
        return Horner(a, r * r) * r / Horner(b, r * r);
    }

    /// <summary>Evaluates a polynomial whose coefficients are given from the highest power down.</summary>
    private static double Horner(ReadOnlySpan<double> coefficients, double x)
    {
        double sum = 0;
        foreach (double k in coefficients)
        {
            sum = (sum * x) + k;
        }

        return sum;
    }
}
