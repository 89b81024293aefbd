namespace LlmRouter;

/// <summary>
/// Hedging for a route (<see cref="RouteOptions.Hedging"/>): when the first attempt has not answered (streams: sent its
/// first update) within a delay, the router starts the next-ranked deployment too; the first success wins and the others
/// are cancelled. It trades a few extra attempts for a much shorter tail: a request stuck behind one slow provider call
/// is rescued by another.
/// </summary>
/// <remarks>
/// Hedges are picked like failovers (the request's constraints, health and ranking apply), count against
/// <see cref="LlmRouterOptions.MaxAttempts"/>, and are paid for: the budget layer reserves for every attempt that may run
/// at once and charges a cancelled hedge its input tokens. Streams race to their first update: the first attempt to
/// send one serves the whole stream.
/// </remarks>
public sealed class HedgingOptions
{
    /// <summary>Gets or sets a fixed delay before the hedge starts (also the delay used while <see cref="DelayPercentile"/> has too little data).</summary>
    /// <value>Default <see langword="null"/>. At least one of <see cref="Delay"/> and <see cref="DelayPercentile"/> must be set.</value>
    public TimeSpan? Delay { get; set; }

    /// <summary>
    /// Gets or sets the percentile of the first deployment's recent latency to wait before hedging, for example 0.9: the
    /// hedge starts when the attempt is slower than 90% of that deployment's recent answers (a log-normal fit of its
    /// last few dozen successful latencies).
    /// </summary>
    /// <value>Default <see langword="null"/>: use <see cref="Delay"/>. Between 0 and 1, exclusive.</value>
    public double? DelayPercentile { get; set; }

    /// <summary>Gets or sets the most hedges one request may start (each one a further delay after the previous).</summary>
    /// <value>Default 1.</value>
    public int MaxExtraAttempts { get; set; } = 1;

    /// <summary>
    /// Gets or sets the largest share of the route's recent requests that may be hedged: under a broad slowdown, hedging
    /// stops at this share instead of doubling the load on every provider.
    /// </summary>
    /// <value>Default 0.1 (10%). Between 0 and 1.</value>
    public double MaxHedgedShare { get; set; } = 0.1;

    /// <summary>
    /// Gets or sets whether non-streaming requests hedge on the time to the first update, as streams do: each attempt calls
    /// the deployment's streaming API, the hedge starts when no attempt has sent an update within the delay (with
    /// <see cref="DelayPercentile"/>, a percentile of the time to first update), and the first attempt to send one serves
    /// the request (the others are cancelled) once its stream, collected, ends.
    /// </summary>
    /// <remarks>
    /// A non-streaming answer's total time is mostly its length, which no hedge shortens: a percentile of it hedges long
    /// answers that are working normally and waits seconds before rescuing a call stuck before its first token. The time
    /// to the first update separates the two. Needs deployments whose clients stream and report usage in their streams;
    /// ranking still uses the whole answer's time, normalised for its length. The caller still gets one response.
    /// </remarks>
    /// <value>Default <see langword="false"/>: non-streaming attempts call the non-streaming API and hedge on the whole answer's time.</value>
    public bool OnFirstUpdate { get; set; }
}
