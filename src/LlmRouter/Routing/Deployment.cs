using LlmRouter.Health.Internal;
using LlmRouter.Providers;
using LlmRouter.Routing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// A deployment as the router runs it: its fixed attributes, its provider client, and the live latency and health
/// statistics that ranking reads. Obtained from <see cref="LlmRouterChatClient.Deployments"/> and passed to custom
/// <see cref="RankingStrategy"/> implementations.
/// </summary>
public sealed class Deployment
{
    private readonly string[] _tags;
    private readonly RouterClock _clock;

    // One short lock per deployment guards both its statistics and its health, so a success takes it once.
    private readonly Lock _gate = new();

    // Router-clock time until which a deployment budget keeps the deployment out of routing.
    private long _budgetBlockedUntil = long.MinValue;
    private LatencyQuantile? _quantiles;
    private LatencyQuantile? _streamingQuantiles;

    internal Deployment(int index, DeploymentOptions options, IChatClient client, RouterSettings settings, RouterClock clock, ReportedRateLimit? reportedRateLimit = null)
    {
        Index = index;
        Name = options.Name;
        ModelId = options.ModelId;
        Region = options.Region;
        ZeroDataRetention = options.ZeroDataRetention;
        Weight = options.Weight;
        _tags = [.. options.Tags];
        AttemptTimeout = options.AttemptTimeout;
        TimeToFirstTokenTimeout = options.TimeToFirstTokenTimeout ?? options.AttemptTimeout;
        Client = client;
        HttpClientName = options.HttpClientName;
        ProviderName = client.GetService<ChatClientMetadata>()?.ProviderName;
        NameHash = StableHash.Of(options.Name);
        Price = options.Price ?? PriceCatalog.Default.Find(options.ModelId);
        ContextWindow = options.ContextWindow ?? Price?.ContextWindow;
        BlendedPricePerMillion = Price is { } price ? (double)(((3 * price.InputPerMillion) + price.OutputPerMillion) / 4) : null;
        BudgetLimits = [.. options.Budgets];

        TimeSpan burst = TimeSpan.FromSeconds(RouterDefaults.RateLimitBurstSeconds);
        RequestQuota = options.RequestsPerMinute is int rpm ? RateQuota.Declared(rpm, clock.Frequency, burst) : null;
        TokenQuota = options.TokensPerMinute is int tpm ? RateQuota.Declared(tpm, clock.Frequency, burst) : null;
        ReportedRateLimit = reportedRateLimit;
        _clock = clock;
        Stats = new LatencyStats(settings.Latency, clock, _gate);
        Health = new DeploymentHealth(settings.Health, clock, _gate);
    }

    /// <summary>Gets the deployment's unique name.</summary>
    public string Name { get; }

    /// <summary>Gets the model id sent to the provider, or <see langword="null"/> for the client's default.</summary>
    public string? ModelId { get; }

    /// <summary>Gets the region, if one was configured.</summary>
    public string? Region { get; }

    /// <summary>Gets whether the provider retains no data for this deployment.</summary>
    public bool ZeroDataRetention { get; }

    /// <summary>Gets the context window in tokens, if known.</summary>
    public int? ContextWindow { get; }

    /// <summary>Gets the relative weight used by the Weighted strategy.</summary>
    public double Weight { get; }

    /// <summary>Gets the tags.</summary>
    public IReadOnlyList<string> Tags => _tags;

    /// <summary>Gets the per-attempt timeout of non-streaming calls, if any.</summary>
    public TimeSpan? AttemptTimeout { get; }

    /// <summary>Gets the time-to-first-update timeout of streaming calls, if any.</summary>
    public TimeSpan? TimeToFirstTokenTimeout { get; }

    /// <summary>Gets the provider's request rate limit the router paces this deployment by, if one was configured.</summary>
    public int? RequestsPerMinute => RequestQuota?.Limit;

    /// <summary>Gets the provider's token rate limit the router paces this deployment by, if one was configured.</summary>
    public int? TokensPerMinute => TokenQuota?.Limit;

    /// <summary>
    /// Gets whether the deployment has used its configured requests or tokens per minute for now, or its provider's last
    /// rate-limit headers reported almost nothing left, so it ranks after those with room left.
    /// </summary>
    public bool IsAtRateLimit => !HasQuotaRoom(_clock.Now(), 0);

    /// <summary>Gets the provider client.</summary>
    public IChatClient Client { get; }

    /// <summary>Gets the deployment's prices: <see cref="DeploymentOptions.Price"/>, else the price catalogue's entry for its model, else <see langword="null"/>.</summary>
    public ModelPrice? Price { get; }

    /// <summary>
    /// Gets whether one of the deployment's own budgets is exhausted, which keeps it out of routing until the window resets
    /// (for a <see cref="BudgetWindow.Total"/> budget, for the rest of the router's life).
    /// </summary>
    public bool IsOutOfBudget => Volatile.Read(ref _budgetBlockedUntil) > _clock.Now();

    /// <summary>Gets the circuit breaker's state.</summary>
    public CircuitState CircuitState => Health.State;

    /// <summary>Gets the time until which the deployment cools down, or <see langword="null"/> when it is not cooling down.</summary>
    public DateTimeOffset? CooldownUntil
    {
        get
        {
            long until = Health.CooldownUntil;
            return until > _clock.Now() ? _clock.ToUtc(until) : null;
        }
    }

    /// <summary>Gets the decayed share of recent attempts that failed, in [0, 1].</summary>
    public double FailureRate => Stats.FailureRate;

    /// <summary>Gets the number of successful and failed attempts recorded since start.</summary>
    public (long Succeeded, long Failed) AttemptCounts => (Health.Successes, Health.Failures);

    internal int Index { get; }

    /// <summary>The deployment's own spending limits (<see cref="DeploymentOptions.Budgets"/>), enforced by the budget layer.</summary>
    internal BudgetLimit[] BudgetLimits { get; }

    internal string? HttpClientName { get; }

    /// <summary>Starts fitting this deployment's latency distribution (for a hedged route's percentile delay).</summary>
    internal void TrackLatencyQuantiles()
    {
        _quantiles ??= new LatencyQuantile();
        _streamingQuantiles ??= new LatencyQuantile();
    }

    /// <summary>The latency (streams: time to first update) at a percentile of recent answers, or <see langword="null"/> without enough data.</summary>
    internal TimeSpan? LatencyAt(double percentile, bool streaming = false) => (streaming ? _streamingQuantiles : _quantiles)?.At(percentile);

    /// <summary>Records the time to first update of a non-streaming attempt made as a stream (<see cref="HedgingOptions.OnFirstUpdate"/>), for the hedging delay.</summary>
    internal void RecordFirstUpdate(double seconds)
    {
        if (_streamingQuantiles is { } quantiles)
        {
            lock (_gate)
            {
                quantiles.RecordLocked(seconds);
            }
        }
    }

    /// <summary>A stable hash of the name, for rendezvous hashing of affinity keys.</summary>
    internal ulong NameHash { get; }

    /// <summary>The blended list price per million tokens (3 input : 1 output), or <see langword="null"/> when the price is unknown.</summary>
    internal double? BlendedPricePerMillion { get; }

    /// <summary>The provider's name from its client's <see cref="ChatClientMetadata"/> ("openai", "anthropic"...), for telemetry.</summary>
    internal string? ProviderName { get; }

    internal LatencyStats Stats { get; }

    /// <summary>Use of <see cref="DeploymentOptions.RequestsPerMinute"/>, if set.</summary>
    internal RateQuota? RequestQuota { get; }

    /// <summary>Use of <see cref="DeploymentOptions.TokensPerMinute"/>, if set.</summary>
    internal RateQuota? TokenQuota { get; }

    /// <summary>What the provider's rate-limit headers last said, when its HttpClient has the LlmRouter transport handler.</summary>
    internal ReportedRateLimit? ReportedRateLimit { get; }

    /// <summary>Whether the deployment has a rate limit the router tracks: declared, or reported by the provider's headers.</summary>
    internal bool HasRateLimits => RequestQuota is not null || TokenQuota is not null || ReportedRateLimit is not null;

    /// <summary>
    /// Whether one more request of <paramref name="promptTokens"/> fits the deployment's declared rate limits now, and the
    /// limits its provider reports, counted on since the last report, keep their margin (always, without limits).
    /// Reported limits are kept on a clock of the router's kind on the same TimeProvider, so <paramref name="now"/> serves both.
    /// </summary>
    internal bool HasQuotaRoom(long now, long promptTokens) =>
        (RequestQuota is null || RequestQuota.HasRoom(now, 1)) && (TokenQuota is null || TokenQuota.HasRoom(now, promptTokens))
        && (ReportedRateLimit is null || ReportedRateLimit.HasRoom(now, promptTokens));

    /// <summary>Counts an attempt sent to the deployment against its declared and reported rate limits.</summary>
    internal void UseQuota(long now, long promptTokens)
    {
        RequestQuota?.Use(now, 1);
        TokenQuota?.Use(now, promptTokens);
        ReportedRateLimit?.Use(now, promptTokens);
    }

    /// <summary>Counts the output tokens a response reported against the token limits.</summary>
    internal void UseOutputTokens(long now, long outputTokens)
    {
        TokenQuota?.Use(now, outputTokens);
        ReportedRateLimit?.Tokens.Use(now, outputTokens);
    }

    internal DeploymentHealth Health { get; }

    internal ReadOnlySpan<string> TagSpan => _tags;

    /// <summary>Whether a deployment budget keeps the deployment out of routing at router-clock time <paramref name="now"/>.</summary>
    internal bool OutOfBudgetAt(long now) => Volatile.Read(ref _budgetBlockedUntil) > now;

    /// <summary>
    /// Keeps the deployment out of routing until <paramref name="until"/> (the end of an exhausted budget's window), or for
    /// the rest of the router's life when it is <see langword="null"/> (an exhausted Total budget).
    /// </summary>
    internal void BlockForBudget(DateTimeOffset? until)
    {
        if (until is not { } end)
        {
            Volatile.Write(ref _budgetBlockedUntil, long.MaxValue);
            return;
        }

        TimeSpan left = end - _clock.TimeProvider.GetUtcNow();
        Volatile.Write(ref _budgetBlockedUntil, left <= TimeSpan.Zero ? long.MinValue : _clock.Now() + _clock.ToTicks(left));
    }

    /// <summary>Records a successful attempt in statistics and health under one lock.</summary>
    internal HealthTransition RecordSuccess(double seconds, bool streaming, long now, bool probe, double elapsedSeconds)
    {
        lock (_gate)
        {
            HealthTransition transition = Health.RecordSuccessLocked(now, probe);
            if (transition == HealthTransition.CircuitClosed)
            {
                Stats.ResetLocked();
            }

            Stats.RecordSuccessLocked(seconds, streaming, now);
            // Hedging compares raw time (not normalised for output length): to the answer, or to the first update of a stream.
            (streaming ? _streamingQuantiles : _quantiles)?.RecordLocked(elapsedSeconds);

            return transition;
        }
    }

    /// <summary>
    /// Gets the decayed mean latency for a request kind: time to first update for streaming requests, total time
    /// normalised for output length for non-streaming ones. <see langword="null"/> before the first sample.
    /// </summary>
    /// <param name="streaming">Whether to return the streaming (time-to-first-token) statistic.</param>
    /// <returns>The estimate, or <see langword="null"/>.</returns>
    public TimeSpan? GetLatencyEstimate(bool streaming)
    {
        double seconds = Stats.MeanSeconds(streaming);
        return double.IsNaN(seconds) ? null : TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
