namespace LlmRouter.Simulation;

/// <summary>
/// What other routers remember about a deployment, kept by the harness (the router's own statistics are internal and
/// are not what those routers keep): the last 10 successful latencies (LiteLLM), a peak EWMA of response times and
/// the number of calls in flight (power of two choices over peak EWMA, as in Finagle, Linkerd, tower and Helicone).
/// Single-threaded, like the simulation.
/// </summary>
public sealed class DeploymentObservations
{
    private const int Window = 10;
    private readonly double[] _total = new double[Window];
    private readonly double[] _firstToken = new double[Window];
    private int _totalCount;
    private int _firstTokenCount;
    private double _peakEwma;
    private TimeSpan _peakEwmaAt;
    private bool _measured;

    /// <summary>Gets the calls currently in flight on the deployment.</summary>
    public int InFlight { get; private set; }

    public void Started() => InFlight++;

    public void Ended() => InFlight--;

    /// <summary>Records a successful call: its duration (time to first update for streams).</summary>
    public void RecordSuccess(double seconds, bool streaming, TimeSpan at, TimeSpan ewmaDecay)
    {
        if (streaming)
        {
            _firstToken[_firstTokenCount++ % Window] = seconds;
        }
        else
        {
            _total[_totalCount++ % Window] = seconds;
        }

        RecordResponseTime(seconds, at, ewmaDecay);
    }

    /// <summary>
    /// Feeds the peak EWMA a response time: a sample above the estimate replaces it at once (the "peak"), one below it
    /// pulls it down with weight 1 - exp(-elapsed / decay).
    /// </summary>
    public void RecordResponseTime(double seconds, TimeSpan at, TimeSpan decay)
    {
        if (!_measured || seconds > _peakEwma)
        {
            _peakEwma = seconds;
        }
        else
        {
            double w = Math.Exp(-(at - _peakEwmaAt).TotalSeconds / decay.TotalSeconds);
            _peakEwma = (_peakEwma * w) + (seconds * (1 - w));
        }

        _peakEwmaAt = at;
        _measured = true;
    }

    /// <summary>Mean of the last (up to) 10 successful latencies, with no decay; null before the first.</summary>
    public double? LastTenMean(bool streaming)
    {
        double[] samples = streaming ? _firstToken : _total;
        int count = Math.Min(streaming ? _firstTokenCount : _totalCount, Window);
        if (count == 0)
        {
            return null;
        }

        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            sum += samples[i];
        }

        return sum / count;
    }

    /// <summary>
    /// The load a power-of-two-choices balancer compares: the peak EWMA, decayed towards zero since its last update (an
    /// idle deployment looks better and better, so it is tried again), times the calls in flight plus one.
    /// <paramref name="defaultSeconds"/> stands in before the first response.
    /// </summary>
    public double PeakEwmaLoad(TimeSpan now, TimeSpan decay, double defaultSeconds)
    {
        double estimate = _measured ? _peakEwma * Math.Exp(-(now - _peakEwmaAt).TotalSeconds / decay.TotalSeconds) : defaultSeconds;
        return estimate * (InFlight + 1);
    }
}
