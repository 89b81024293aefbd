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
/// <remarks>
/// The attributes are immutable, taken from <see cref="DeploymentOptions"/> at start-up. What changes while the router runs
/// lives in state objects owned by the feature that writes them: health and latency statistics
/// (<c>DeploymentHealthState</c>), rate-limit use (<c>RateLimitState</c>) and a hold out of routing set from above
/// (<c>RoutingHold</c>, a deployment budget). The public state properties below read those objects.
/// </remarks>
public sealed class Deployment
{
    private readonly string[] _tags;
    private readonly RouterClock _clock;
    private RoutingHold? _hold;

    internal Deployment(
        int index, DeploymentOptions options, IChatClient client, RouterSettings settings, RouterClock clock, ReportedRateLimit? reportedRateLimit = null, TrafficCounter? traffic = null)
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
        _clock = clock;
        HealthState = new DeploymentHealthState(settings.Health, settings.Latency, clock, traffic);
        Health = HealthState.Circuit;
        Stats = HealthState.Latency;
        RateLimits = new RateLimitState(options, clock, reportedRateLimit);
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
    public int? RequestsPerMinute => RateLimits.Requests?.Limit;

    /// <summary>Gets the provider's token rate limit the router paces this deployment by, if one was configured.</summary>
    public int? TokensPerMinute => RateLimits.Tokens?.Limit;

    /// <summary>
    /// Gets whether the deployment has used its configured requests or tokens per minute for now, its provider's last
    /// rate-limit headers reported almost nothing left, or a recent sporadic 429 asked it to wait, so it ranks after those
    /// with room left.
    /// </summary>
    public bool IsAtRateLimit
    {
        get
        {
            long now = _clock.Now();
            return Health.IsThrottled(now) || !RateLimits.HasRoom(now, 0);
        }
    }

    /// <summary>Gets the provider client.</summary>
    public IChatClient Client { get; }

    /// <summary>Gets the deployment's prices: <see cref="DeploymentOptions.Price"/>, else the price catalogue's entry for its model, else <see langword="null"/>.</summary>
    public ModelPrice? Price { get; }

    /// <summary>
    /// Gets whether one of the deployment's own budgets is exhausted, which keeps it out of routing until the window resets
    /// (for a <see cref="BudgetWindow.Total"/> budget, for the rest of the router's life).
    /// </summary>
    public bool IsOutOfBudget => _hold is { } hold && hold.IsHeldNow;

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

    /// <summary>
    /// Gets the decayed mean latency for a request kind: time to first update for streaming requests, total time
    /// normalised for output length for non-streaming ones. <see langword="null"/> before the first sample.
    /// </summary>
    /// <param name="streaming">Whether to return the streaming (time-to-first-token) statistic.</param>
    /// <returns>The estimate, or <see langword="null"/>.</returns>
    public TimeSpan? GetLatencyEstimate(bool streaming) => HealthState.LatencyEstimate(streaming);

    /// <inheritdoc />
    public override string ToString() => Name;

    internal int Index { get; }

    /// <summary>The deployment's own spending limits (<see cref="DeploymentOptions.Budgets"/>), enforced by the budget layer.</summary>
    internal BudgetLimit[] BudgetLimits { get; }

    internal string? HttpClientName { get; }

    /// <summary>A stable hash of the name, for rendezvous hashing of affinity keys.</summary>
    internal ulong NameHash { get; }

    /// <summary>The blended list price per million tokens (3 input : 1 output), or <see langword="null"/> when the price is unknown.</summary>
    internal double? BlendedPricePerMillion { get; }

    /// <summary>The provider's name from its client's <see cref="ChatClientMetadata"/> ("openai", "anthropic"...), for telemetry.</summary>
    internal string? ProviderName { get; }

    internal ReadOnlySpan<string> TagSpan => _tags;

    /// <summary>What attempts taught the router: circuit, cooldown, latency statistics, quantiles (Health).</summary>
    internal DeploymentHealthState HealthState { get; }

    /// <summary>Use of the declared and reported provider rate limits.</summary>
    internal RateLimitState RateLimits { get; }

    /// <summary>A hold out of routing set by a layer above the router (an exhausted deployment budget), created on first use.</summary>
    internal RoutingHold Hold
    {
        get
        {
            if (_hold is null)
            {
                Interlocked.CompareExchange(ref _hold, new RoutingHold(_clock), null);
            }

            return _hold;
        }
    }

    /// <summary>Whether a hold keeps the deployment out of routing at <paramref name="now"/> (most deployments are never held: one load).</summary>
    internal bool IsHeld(long now) => _hold is { } hold && hold.IsHeld(now);

    /// <summary>
    /// Cooldowns, circuit and attempt counts (<see cref="DeploymentHealthState.Circuit"/>), referenced here too: selection
    /// reads it for every candidate of every request, one pointer hop fewer.
    /// </summary>
    internal DeploymentHealth Health { get; }

    /// <summary>Latency and failure statistics (<see cref="DeploymentHealthState.Latency"/>), referenced here for the same reason.</summary>
    internal LatencyStats Stats { get; }
}
