using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>How a soak request ended.</summary>
internal enum SoakOutcome
{
    /// <summary>Answered, with the router's report.</summary>
    Served,

    /// <summary>Answered by the response cache (a shared prompt): no provider call of its own, so no report.</summary>
    ServedFromCache,

    /// <summary>
    /// A stream that ended without a single update: a provider answered 200 with a body its SDK read as no events (the
    /// simulator's malformed JSON) and the router, by design, passes an empty stream on as an empty answer.
    /// </summary>
    EmptyStream,

    /// <summary>The caller stopped reading a stream after its first update, as it meant to.</summary>
    Abandoned,

    /// <summary>The caller cancelled, and got <see cref="OperationCanceledException"/>.</summary>
    Cancelled,

    /// <summary><see cref="BudgetExceededException"/>: the capped scope's budget had run out.</summary>
    BudgetDenied,

    /// <summary><see cref="AllAttemptsFailedException"/>: every attempt the request could make failed.</summary>
    AllAttemptsFailed,

    /// <summary><see cref="NoAvailableDeploymentException"/>: every deployment was cooling down, open or out of budget.</summary>
    NoAvailableDeployment,

    /// <summary>Another <see cref="LlmRouterException"/>.</summary>
    OtherRouterError,

    /// <summary>
    /// A stream failed after updates had reached the caller: the provider's error, passed on unchanged as documented
    /// (replaying from another provider would mix two generations).
    /// </summary>
    BrokenMidStream,

    /// <summary>Anything else: an invariant broke (see <see cref="SoakTally.Violations"/>).</summary>
    Violation,
}

/// <summary>The run's figures: outcome counts, invariant violations with their first examples, peak concurrency, costs.</summary>
internal sealed class SoakTally
{
    private const int ExamplesKept = 20;
    private readonly long[] _counts = new long[Enum.GetValues<SoakOutcome>().Length];
    private readonly ConcurrentDictionary<string, long> _errorTypes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<int, (SoakRequest Request, long Started)> _inFlight = new();
    private readonly ConcurrentDictionary<string, string> _examples = new(StringComparer.Ordinal);
    private long _violationCount;
    private int _running;
    private int _peak;
    private long _maxCostNanos;
    private long _maxBudgetRequestNanos;

    public long this[SoakOutcome outcome] => Interlocked.Read(ref _counts[(int)outcome]);

    public long Total => _counts.Sum();

    public int PeakInFlight => Volatile.Read(ref _peak);

    public long ViolationCount => Interlocked.Read(ref _violationCount);

    public IReadOnlyCollection<string> Violations => _violations;

    /// <summary>The dearest request the budget layer charged (its <see cref="RequestCost"/>), in US dollars.</summary>
    public decimal MaxRequestCostUsd => Interlocked.Read(ref _maxCostNanos) / 1e9m;

    /// <summary>The largest reservation a <see cref="BudgetExceededException"/> reported (its <c>RequestedUsd</c>).</summary>
    public decimal MaxBudgetRequestUsd => Interlocked.Read(ref _maxBudgetRequestNanos) / 1e9m;

    public void Started(SoakRequest request)
    {
        _inFlight[request.Number] = (request, Stopwatch.GetTimestamp());
        int running = Interlocked.Increment(ref _running);
        int peak = Volatile.Read(ref _peak);
        while (running > peak && Interlocked.CompareExchange(ref _peak, running, peak) != peak)
        {
            peak = Volatile.Read(ref _peak);
        }
    }

    public void Ended(SoakRequest request, SoakOutcome outcome, Exception? error = null, string? violation = null)
    {
        _inFlight.TryRemove(request.Number, out _);
        Interlocked.Decrement(ref _running);
        Interlocked.Increment(ref _counts[(int)outcome]);
        if (error is not null)
        {
            _errorTypes.AddOrUpdate($"{outcome}: {error.GetType().Name}{Inner(error)}", 1, (_, n) => n + 1);
            _examples.TryAdd($"{outcome}: {error.GetType().Name}{Inner(error)}", error.Message);
        }

        if (outcome == SoakOutcome.Violation && Interlocked.Increment(ref _violationCount) <= ExamplesKept)
        {
            _violations.Enqueue($"{request}: {violation}{(error is null ? string.Empty : Environment.NewLine + error)}");
        }
    }

    public void Charged(RequestCost? cost)
    {
        if (cost is not null)
        {
            Max(ref _maxCostNanos, (long)(cost.Usd * 1e9m));
        }
    }

    public void Denied(BudgetExceededException denied) => Max(ref _maxBudgetRequestNanos, (long)(denied.RequestedUsd * 1e9m));

    /// <summary>The requests still running, oldest first: what the hang guard reports.</summary>
    public string Stuck(int max)
    {
        var text = new StringBuilder();
        foreach ((SoakRequest request, long started) in _inFlight.Values.OrderBy(v => v.Started).Take(max))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {request} running for {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s").AppendLine();
        }

        return $"{_inFlight.Count} request(s) still in flight:{Environment.NewLine}{text}";
    }

    /// <summary>One line per outcome class with its count and share, then the error types seen per class.</summary>
    public IEnumerable<string> Summary()
    {
        long total = Math.Max(1, Total);
        foreach (SoakOutcome outcome in Enum.GetValues<SoakOutcome>())
        {
            long n = this[outcome];
            yield return string.Create(CultureInfo.InvariantCulture, $"soak outcome {outcome,-22} {n,9} ({100.0 * n / total,6:0.00}%)");
        }

        foreach (KeyValuePair<string, long> type in _errorTypes.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"soak error   {type.Key,-60} {type.Value,9}");
            yield return "   e.g. " + _examples[type.Key];
        }
    }

    private static string Inner(Exception error) => error switch
    {
        NoAvailableDeploymentException e => $" ({e.Reason})",
        { InnerException: { } inner } => $" <- {inner.GetType().Name}",
        _ => string.Empty,
    };

    private static void Max(ref long field, long value)
    {
        long current = Interlocked.Read(ref field);
        while (value > current && Interlocked.CompareExchange(ref field, value, current) != current)
        {
            current = Interlocked.Read(ref field);
        }
    }
}
