using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;

namespace LlmRouter.Telemetry;

/// <summary>
/// The library's <see cref="ActivitySource"/>, <see cref="Meter"/> and instruments, and the attribute names they use
/// (OpenTelemetry gen_ai semantic conventions where one exists, <c>llmrouter.*</c> otherwise). Every recording method
/// checks <see cref="Instrument.Enabled"/> first, so an application that exports nothing pays a field read per instrument.
/// </summary>
/// <remarks>
/// Instrument names are <c>llmrouter.*</c> rather than the gen_ai client metrics (<c>gen_ai.client.operation.duration</c>,
/// <c>gen_ai.client.token.usage</c>): M.E.AI's <c>UseOpenTelemetry</c> around each provider client already records those
/// per provider call, and the same name from two meters would clash in exporters such as Prometheus.
/// Metric tags are bounded: route, deployment and provider names come from configuration, outcomes and error types from
/// fixed sets; scope ids only for scopes named in configuration (never per-user ids from <c>kind:*</c> policies).
/// </remarks>
internal static class RouterTelemetry
{
    public static readonly ActivitySource Source = new(LlmRouterTelemetry.ActivitySourceName, typeof(RouterTelemetry).Assembly.GetName().Version?.ToString());

    public static readonly Meter Meter = new(LlmRouterTelemetry.MeterName, typeof(RouterTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Buckets for LLM call durations: 10 ms to 5 minutes.</summary>
    private static readonly InstrumentAdvice<double> DurationAdvice = new()
    {
        HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 300],
    };

    public static readonly Counter<long> Requests = Meter.CreateCounter<long>(
        "llmrouter.requests", "{request}", "Requests the router handled, by requested route and outcome (served, failed, cancelled).");

    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram(
        "llmrouter.request.duration", "s", "Time the router spent on a request, failovers included (streams: until the end of the stream).", tags: null, DurationAdvice);

    public static readonly Counter<long> Attempts = Meter.CreateCounter<long>(
        "llmrouter.attempts", "{attempt}", "Provider attempts, by deployment and outcome (succeeded, failed, timed_out, cancelled).");

    public static readonly Histogram<double> AttemptDuration = Meter.CreateHistogram(
        "llmrouter.attempt.duration", "s", "Time from the start of an attempt to its response (streams: its first update) or failure.", tags: null, DurationAdvice);

    public static readonly Histogram<double> TimeToFirstChunk = Meter.CreateHistogram(
        "llmrouter.time_to_first_chunk", "s", "Time from the start of a streaming attempt to its first update.", tags: null, DurationAdvice);

    public static readonly Counter<long> Failovers = Meter.CreateCounter<long>(
        "llmrouter.failovers", "{failover}", "Moves from a failed attempt to another deployment, by the deployment left and the failure kind.");

    public static readonly Counter<long> Hedges = Meter.CreateCounter<long>(
        "llmrouter.hedges", "{hedge}", "Hedged attempts started while an earlier attempt of the same request was still running, and whether they won.");

    public static readonly Counter<long> RateLimitDeferrals = Meter.CreateCounter<long>(
        "llmrouter.rate_limit.deferrals", "{deferral}", "Deployments ranked last for a request because their declared or provider-reported rate limit had no room.");

    public static readonly Counter<long> Cooldowns = Meter.CreateCounter<long>(
        "llmrouter.deployment.cooldowns", "{cooldown}", "Deployments taken out of routing for a cooldown, by failure kind.");

    public static readonly Counter<long> CircuitTransitions = Meter.CreateCounter<long>(
        "llmrouter.circuit.transitions", "{transition}", "Circuit breaker transitions per deployment (open, half_open, closed).");

    public static readonly Counter<long> Tokens = Meter.CreateCounter<long>(
        "llmrouter.tokens", "{token}", "Tokens reported by providers, by deployment and gen_ai.token.type (input, output).");

    public static readonly Counter<double> Cost = Meter.CreateCounter<double>(
        "llmrouter.cost", "USD", "What served requests cost, by route and deployment (llmrouter.cost.estimated when no usage was reported).");

    public static readonly Counter<long> CacheHits = Meter.CreateCounter<long>(
        "llmrouter.cache.hits", "{request}", "Requests the response cache answered (entries and joined streams).");

    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>(
        "llmrouter.cache.misses", "{request}", "Cacheable requests the response cache passed on.");

    public static readonly Counter<double> CacheCostSaved = Meter.CreateCounter<double>(
        "llmrouter.cache.cost_saved", "USD", "What the answers served from the cache cost when they were produced.");

    public static readonly Counter<long> BudgetRejections = Meter.CreateCounter<long>(
        "llmrouter.budget.rejections", "{request}", "Requests the budget layer refused before any provider call, by reason.");

    private static readonly ConditionalWeakTable<object, Func<IEnumerable<Measurement<double>>>> BudgetSources = [];

    public static readonly ObservableGauge<double> BudgetRemaining = Meter.CreateObservableGauge(
        "llmrouter.budget.remaining", ObserveBudgets, "USD", "What is left of each budget of a configured scope or deployment in its current window.");

    /// <summary>Adds a budget layer's remaining budgets to <c>llmrouter.budget.remaining</c> for as long as it lives.</summary>
    public static void ObserveBudgets(object owner, Func<IEnumerable<Measurement<double>>> observe) => BudgetSources.AddOrUpdate(owner, observe);

    private static IEnumerable<Measurement<double>> ObserveBudgets()
    {
        foreach (KeyValuePair<object, Func<IEnumerable<Measurement<double>>>> source in BudgetSources)
        {
            foreach (Measurement<double> m in source.Value())
            {
                yield return m;
            }
        }
    }

    /// <summary>The route tag of a request naming no known route.</summary>
    public const string UnknownRoute = "(unknown)";

    /// <summary>Attribute and tag names.</summary>
    internal static class Tags
    {
        public const string Operation = "gen_ai.operation.name";
        public const string RequestModel = "gen_ai.request.model";
        public const string ResponseModel = "gen_ai.response.model";
        public const string Provider = "gen_ai.provider.name";
        public const string InputTokens = "gen_ai.usage.input_tokens";
        public const string OutputTokens = "gen_ai.usage.output_tokens";
        public const string TokenType = "gen_ai.token.type";
        public const string ErrorType = "error.type";
        public const string HttpStatus = "http.response.status_code";
        public const string Route = "llmrouter.route";
        public const string ServedRoute = "llmrouter.served_route";
        public const string DeploymentName = "llmrouter.deployment";
        public const string Streaming = "llmrouter.streaming";
        public const string Outcome = "llmrouter.outcome";
        public const string AttemptCount = "llmrouter.attempts";
        public const string AttemptNumber = "llmrouter.attempt.number";
        public const string AttemptOutcomeName = "llmrouter.attempt.outcome";
        public const string Probe = "llmrouter.attempt.probe";
        public const string Hedge = "llmrouter.attempt.hedge";
        public const string FailureKindName = "llmrouter.failure.kind";
        public const string FailoverReason = "llmrouter.failover.reason";
        public const string FailoverFrom = "llmrouter.failover.from";
        public const string CacheCostSaved = "llmrouter.cache.cost_saved";
        public const string CircuitStateName = "llmrouter.circuit.state";
        public const string CacheHit = "llmrouter.cache.hit";
        public const string CostUsd = "llmrouter.cost.usd";
        public const string CostEstimated = "llmrouter.cost.estimated";
        public const string Scope = "llmrouter.scope";
        public const string BudgetWindowName = "llmrouter.budget.window";
        public const string Reason = "llmrouter.reason";
        public const string NoDeploymentReason = "llmrouter.no_deployment.reason";
    }

    /// <summary>Lower-case, underscore-separated names for enum values in tags (<c>RateLimited</c> -> <c>rate_limited</c>); "other" for undefined values.</summary>
    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => EnumTagNames<TEnum>.Names.TryGetValue(value, out string? name) ? name : "other";

    /// <summary>The tag names of one enum's values, computed once.</summary>
    private static class EnumTagNames<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<TEnum, string> Names = Enum.GetValues<TEnum>().Distinct().ToFrozenDictionary(v => v, v => SnakeCase(v.ToString()));
    }

    private static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
