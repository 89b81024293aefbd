namespace LlmRouter.Simulation;

/// <summary>What happened to one request, as its caller saw it, plus which providers it touched.</summary>
public struct RequestRecord
{
    public TimeSpan Arrival { get; set; }

    /// <summary>Time the caller waited for its answer (or error): the whole response, or the first update of a stream.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Time to the end of the response (the same as <see cref="Latency"/> for non-streaming requests).</summary>
    public TimeSpan Total { get; set; }

    public bool Completed { get; set; }

    public bool Succeeded { get; set; }

    public bool Streaming { get; set; }

    /// <summary>Calls made to providers for this request (failovers and, later, hedges included).</summary>
    public int Attempts { get; set; }

    /// <summary>Bit i set when provider i was called for this request.</summary>
    public int AttemptedMask { get; set; }

    /// <summary>Provider of the first call, -1 when none was made.</summary>
    public int FirstProvider { get; set; }

    /// <summary>Provider whose answer the caller got, -1 when it failed.</summary>
    public int ServedProvider { get; set; }

    /// <summary>Type name of the exception the caller got, when it failed.</summary>
    public string? Error { get; set; }
}

/// <summary>Per-provider totals over a run.</summary>
public sealed class ProviderTotals
{
    public long Attempts { get; set; }

    public long Succeeded { get; set; }

    /// <summary>Calls answered 503 (outage or background errors).</summary>
    public long Unavailable { get; set; }

    /// <summary>Calls answered 429.</summary>
    public long RateLimited { get; set; }

    /// <summary>Calls that hung (outage); they end only when the router cancels them (attempt timeout).</summary>
    public long Hung { get; set; }

    /// <summary>Calls the router cancelled (timeouts, and losers of hedged requests).</summary>
    public long Cancelled { get; set; }

    /// <summary>USD spent on this provider: every call's input tokens except 429s (refused before any work), output tokens of successes.</summary>
    public double Cost { get; set; }
}

/// <summary>The record of one strategy's run and the numbers reported from it.</summary>
public sealed class RunResult
{
    /// <summary>Requests per window in the outage convergence measure.</summary>
    public const int ConvergenceWindow = 50;

    /// <summary>Share of a window at or above which the broken provider still counts as receiving traffic.</summary>
    public const double ConvergenceShare = 0.05;

    private double[]? _sortedLatencies;

    public required StrategySpec Strategy { get; init; }

    public required Scenario Scenario { get; init; }

    public required RequestRecord[] Requests { get; init; }

    public required ProviderTotals[] Providers { get; init; }

    /// <summary>Calls started per virtual second, per provider: [second][provider].</summary>
    public required IReadOnlyList<int[]> AttemptsPerSecond { get; init; }

    /// <summary>A hash of every request's outcome and every provider's totals: equal for runs that behaved identically.</summary>
    public required string Digest { get; init; }

    /// <summary>Real time the run took.</summary>
    public required TimeSpan WallTime { get; init; }

    /// <summary>Virtual time the run covered (last request's end).</summary>
    public required TimeSpan VirtualTime { get; init; }

    /// <summary>Latencies of the successful requests in seconds, ascending.</summary>
    public double[] SortedLatencies => _sortedLatencies ??= SortedSeconds(Requests.Where(r => r.Succeeded));

    public double Percentile(double p) => Percentile(SortedLatencies, p);

    public double SuccessRate => Requests.Count(r => r.Succeeded) / (double)Requests.Length;

    public double TotalCost => Providers.Sum(p => p.Cost);

    public double CostPer1000Requests => TotalCost / Requests.Length * 1000;

    /// <summary>Mean of (calls - 1) per request; requests that made no call count as 0.</summary>
    public double ExtraAttemptsPerRequest => Requests.Sum(r => Math.Max(0, r.Attempts - 1)) / (double)Requests.Length;

    /// <summary>Share of requests that made more than one call.</summary>
    public double MultiAttemptShare => Requests.Count(r => r.Attempts > 1) / (double)Requests.Length;

    /// <summary>Nearest-rank percentile of ascending values; NaN when empty.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>p50 and p99 of the successful requests that arrived in a phase, and how many there were.</summary>
    public (double P50, double P99, double SuccessRate, int Count) InPhase(Phase phase)
    {
        RequestRecord[] inPhase = [.. Requests.Where(r => phase.Contains(r.Arrival))];
        double[] sorted = SortedSeconds(inPhase.Where(r => r.Succeeded));
        double success = inPhase.Length == 0 ? double.NaN : inPhase.Count(r => r.Succeeded) / (double)inPhase.Length;
        return (Percentile(sorted, 0.50), Percentile(sorted, 0.99), success, inPhase.Length);
    }

    /// <summary>Each provider's share of all calls made.</summary>
    public double[] AttemptShare()
    {
        double total = Providers.Sum(p => p.Attempts);
        return [.. Providers.Select(p => total == 0 ? 0 : p.Attempts / total)];
    }

    /// <summary>
    /// How quickly traffic left the broken provider once its outage started, over the requests that arrived during the
    /// outage, in arrival order, with windows of <see cref="ConvergenceWindow"/> consecutive requests:
    /// <c>FirstOff</c> is the start of the first window with fewer than <see cref="ConvergenceShare"/> of its requests
    /// calling the broken provider; <c>OffForGood</c> the smallest k such that every window from the k-th request on is
    /// below that share (null: traffic never left for good), and <c>OffForGoodAfter</c> the virtual time from the
    /// outage's start to that request's arrival; <c>Hits</c> counts the outage's requests that called the broken
    /// provider at all, of <c>OfRequests</c>.
    /// </summary>
    public (int? FirstOff, int? OffForGood, TimeSpan? OffForGoodAfter, int Hits, int OfRequests) OutageConvergence()
    {
        Outage outage = Scenario.Outage;
        int bit = 1 << outage.Provider;
        RequestRecord[] during = [.. Requests.Where(r => outage.Phase.Contains(r.Arrival))];
        bool[] hit = [.. during.Select(r => (r.AttemptedMask & bit) != 0)];
        int hits = hit.Count(h => h);
        int[] counts = WindowCounts(hit);
        double limit = ConvergenceShare * ConvergenceWindow;
        int first = Array.FindIndex(counts, c => c < limit);
        int last = Array.FindLastIndex(counts, c => c >= limit);
        int? forGood = counts.Length == 0 || last == counts.Length - 1 ? null : last + 1;
        TimeSpan? after = forGood switch
        {
            null => null,
            0 => TimeSpan.Zero,
            int k => during[k].Arrival - outage.Phase.Start,
        };
        return (first < 0 ? null : first, forGood, after, hits, during.Length);
    }

    /// <summary>
    /// How quickly traffic came back to the provider once its outage ended: over the requests that arrived after the
    /// outage, the start of the first window of <see cref="ConvergenceWindow"/> requests in which the provider's share
    /// of calls is at least half what it was in the first phase (null: never, before the run ended), and the virtual
    /// time from the outage's end to that request's arrival.
    /// </summary>
    public (int? Requests, TimeSpan? After) ReturnAfterRecovery()
    {
        Outage outage = Scenario.Outage;
        Phase before = Scenario.Phases[0];
        double normal = ShareOfCalls(Requests.Where(r => before.Contains(r.Arrival)), outage.Provider);
        RequestRecord[] after = [.. Requests.Where(r => r.Arrival >= outage.Phase.End)];
        if (normal == 0 || after.Length < ConvergenceWindow)
        {
            return (null, null);
        }

        for (int start = 0; start + ConvergenceWindow <= after.Length; start++)
        {
            if (ShareOfCalls(after.Skip(start).Take(ConvergenceWindow), outage.Provider) >= normal / 2)
            {
                return (start, after[start].Arrival - outage.Phase.End);
            }
        }

        return (null, null);
    }

    /// <summary>Share of a set of requests' calls that went to a provider (a request counts once per provider it called).</summary>
    private static double ShareOfCalls(IEnumerable<RequestRecord> requests, int provider)
    {
        int calls = 0;
        int toProvider = 0;
        foreach (RequestRecord r in requests)
        {
            calls += System.Numerics.BitOperations.PopCount((uint)r.AttemptedMask);
            toProvider += (r.AttemptedMask >> provider) & 1;
        }

        return calls == 0 ? 0 : toProvider / (double)calls;
    }

    /// <summary>Hits in each window of <see cref="ConvergenceWindow"/> consecutive entries: [i] covers i .. i + window - 1.</summary>
    private static int[] WindowCounts(bool[] hit)
    {
        if (hit.Length < ConvergenceWindow)
        {
            return [];
        }

        var counts = new int[hit.Length - ConvergenceWindow + 1];
        int inWindow = hit.Take(ConvergenceWindow).Count(h => h);
        counts[0] = inWindow;
        for (int i = 1; i < counts.Length; i++)
        {
            inWindow += (hit[i + ConvergenceWindow - 1] ? 1 : 0) - (hit[i - 1] ? 1 : 0);
            counts[i] = inWindow;
        }

        return counts;
    }

    /// <summary>Calls per provider in buckets of <paramref name="bucket"/> between two virtual times, as shares of each bucket.</summary>
    public (double[] Starts, double[][] Shares) TrafficShares(TimeSpan from, TimeSpan to, TimeSpan bucket)
    {
        int seconds = Math.Max(1, (int)Math.Round(bucket.TotalSeconds));
        int first = Math.Max(0, (int)from.TotalSeconds);
        int last = Math.Min(AttemptsPerSecond.Count, (int)Math.Ceiling(to.TotalSeconds));
        var starts = new List<double>();
        var shares = new List<double[]>();
        for (int s = first; s < last; s += seconds)
        {
            var counts = new double[Providers.Length];
            for (int t = s; t < Math.Min(last, s + seconds); t++)
            {
                for (int p = 0; p < counts.Length; p++)
                {
                    counts[p] += AttemptsPerSecond[t][p];
                }
            }

            double total = counts.Sum();
            starts.Add(s);
            shares.Add([.. counts.Select(c => total == 0 ? 0 : c / total)]);
        }

        return ([.. starts], [.. shares]);
    }

    private static double[] SortedSeconds(IEnumerable<RequestRecord> records)
    {
        double[] values = [.. records.Select(r => r.Latency.TotalSeconds)];
        Array.Sort(values);
        return values;
    }
}
