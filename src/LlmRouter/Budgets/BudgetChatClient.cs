using System.Collections.Concurrent;
using System.Collections.Frozen;
using LlmRouter.Budgets.Internal;
using LlmRouter.Caching;
using LlmRouter.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmRouter;

// The budget layer's state, construction, public API (usage reads, the chat entry points) and GetService.
/// <summary>
/// Enforces scope policies and budgets before any provider call and accounts for every request after it: checks the
/// request's scope path (allowed and denied routes, regions, output cap, rate limits), reserves its worst-case cost on
/// every budget of the path atomically, calls the inner client (typically the router), settles the reservation to the
/// actual cost (or an estimate when the provider reports no usage, also for streams that fail or are abandoned), charges
/// the serving deployment's own budgets, and writes an audit record.
/// </summary>
/// <remarks>
/// Place it under the response cache (<c>UseResponseCache</c> then <c>UseBudgets</c>, as <c>AddLlmRouter</c> does): cache
/// hits then cost nothing and take no reservation, but still pass the scope's policy checks and are audited. Prices
/// come from the router's deployments (<see cref="Deployment.Price"/>); over another client, from the price catalogue
/// by model id.
/// </remarks>
public sealed partial class BudgetChatClient : DelegatingChatClient, ICacheHitAdmission
{
    private readonly BudgetOptions _options;
    private readonly BudgetStore _store;
    private readonly IScopePathSource? _source;
    private readonly IAuditSink _audit;
    private readonly WallClock _clock;
    private readonly ILogger _logger;
    private readonly PolicyTable _policies;
    private readonly IRouterTopology? _router;
    private readonly FrozenDictionary<string, TokenRates> _routeRates;
    private readonly FrozenDictionary<string, int> _concurrentAttempts;
    private readonly FrozenDictionary<string, DeploymentBudget> _deployments;
    private readonly bool _anyDeploymentBudget;
    private readonly Dictionary<ScopePolicy, FrozenSet<string>> _fallbackLimited = new(ReferenceEqualityComparer.Instance);
    private readonly BudgetAccount[] _observed;
    private readonly ConcurrentDictionary<BudgetAccount, long> _lastRemaining = new(ReferenceEqualityComparer.Instance);
    private readonly OutageProbe _ledger;
    private BudgetAccount? _probeAccount;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="innerClient">The client to guard (typically the router).</param>
    /// <param name="options">Policies and settings; read once.</param>
    /// <param name="store">Where counters live; default a new <see cref="InMemoryBudgetStore"/>.</param>
    /// <param name="scopePathSource">Supplies scope paths of requests that carry none.</param>
    /// <param name="auditSink">Receives one record per request; default structured logs.</param>
    /// <param name="timeProvider">The clock for windows and rate limits; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">Where store outages and (by default) audit records are logged.</param>
    /// <exception cref="OptionsValidationException">The options are invalid, or a budget applies to a deployment whose price is unknown.</exception>
    public BudgetChatClient(
        IChatClient innerClient,
        BudgetOptions options,
        BudgetStore? store = null,
        IScopePathSource? scopePathSource = null,
        IAuditSink? auditSink = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        _router = innerClient.GetService<IRouterTopology>();
        List<string> failures = BudgetOptionsValidator.Validate(options, _router, RouterDefaults.ConfigurationSection + ":Budgets");
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(BudgetOptions), failures);
        }

        _options = options;
        _store = store ?? new InMemoryBudgetStore();
        _source = scopePathSource;
        _clock = new WallClock(timeProvider ?? TimeProvider.System);
        _logger = loggerFactory?.CreateLogger("LlmRouter.Budgets") ?? NullLogger.Instance;
        _audit = auditSink ?? new LoggingAuditSink(loggerFactory?.CreateLogger("LlmRouter.Audit") ?? NullLogger.Instance);
        _policies = new PolicyTable(options.Scopes);
        _ledger = new OutageProbe(
            ProbeLedgerAsync,
            _clock.TimeProvider,
            BudgetDefaults.LedgerProbeInterval,
            ex => BudgetLog.LedgerUnavailable(_logger, _options.OnLedgerFailure, ex.GetType().Name, ex.Message),
            () => BudgetLog.LedgerRecovered(_logger));

        var routeRates = new Dictionary<string, TokenRates>(StringComparer.OrdinalIgnoreCase);
        var hedged = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var deployments = new Dictionary<string, DeploymentBudget>(StringComparer.OrdinalIgnoreCase);
        if (_router is not null)
        {
            foreach (string route in _router.Routes)
            {
                if (WorstRates(_router.Reachable(route)) is { } rates)
                {
                    routeRates[route] = rates;
                }

                if (_router.MaxConcurrentAttempts(route) is > 1 and int concurrent)
                {
                    hedged[route] = concurrent;
                }
            }

            if (_router.MaxConcurrentAttempts(null) is > 1 and int concurrentDefault)
            {
                hedged[string.Empty] = concurrentDefault;
            }

            if (WorstRates(_router.Reachable(null)) is { } defaultRates)
            {
                routeRates[string.Empty] = defaultRates;
            }

            foreach (ScopePolicy policy in options.Scopes)
            {
                if (FallbackLimitedRoutes(_router, policy) is { Count: > 0 } limited)
                {
                    _fallbackLimited[policy] = limited;
                }
            }

            foreach (Deployment d in _router.Deployments)
            {
                BudgetAccount[] accounts = Array.ConvertAll(d.BudgetLimits, limit => new BudgetAccount(d.Name, limit, isDeployment: true));
                deployments[d.Name] = new DeploymentBudget(d, accounts);
                _anyDeploymentBudget |= accounts.Length > 0;
            }
        }

        _routeRates = routeRates.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _concurrentAttempts = hedged.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

        _deployments = deployments.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _observed = [.. _policies.ExactScopes.SelectMany(s => s.Accounts), .. deployments.Values.SelectMany(d => d.Budgets)];
        if (_observed.Length > 0)
        {
            RouterTelemetry.ObserveBudgets(this, ObserveRemaining);
        }
    }

    /// <summary>Gets the store the counters live in.</summary>
    public BudgetStore Store => _store;

    /// <summary>Reads the state of every budget of a scope in its current window (for dashboards and "remaining budget" displays).</summary>
    /// <param name="scopeId">The scope id, for example "team:search" or "user:alice" (a <c>user:*</c> policy applies to it).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>One entry per budget of the scope; empty when no policy with budgets applies to it.</returns>
    /// <exception cref="BudgetLedgerUnavailableException">The store cannot be reached (whatever <see cref="BudgetOptions.OnLedgerFailure"/> is).</exception>
    public async Task<IReadOnlyList<BudgetUsage>> GetUsageAsync(string scopeId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scopeId);
        if (_policies.Find(scopeId) is not { } scope)
        {
            return [];
        }

        DateTimeOffset now = _clock.UtcNow();
        var usage = new BudgetUsage[scope.Accounts.Length];
        for (int i = 0; i < usage.Length; i++)
        {
            usage[i] = await ReadUsageAsync(scope.Accounts[i], now, cancellationToken).ConfigureAwait(false);
        }

        return usage;
    }

    /// <summary>
    /// Reads every budget the layer knows in its current window: those of configured scope ids, of the ids <c>kind:*</c>
    /// policies have seen so far, and of deployments (for dashboards and the snapshot API).
    /// </summary>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>One entry per budget: configured scope ids, then ids seen by <c>kind:*</c> policies, then deployments.</returns>
    /// <exception cref="BudgetLedgerUnavailableException">The store cannot be reached (whatever <see cref="BudgetOptions.OnLedgerFailure"/> is).</exception>
    public async Task<IReadOnlyList<BudgetUsage>> GetUsageAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = _clock.UtcNow();
        var usage = new List<BudgetUsage>();
        IEnumerable<BudgetAccount> accounts = _policies.KnownScopes.SelectMany(s => s.Accounts).Concat(_deployments.Values.SelectMany(d => d.Budgets));
        foreach (BudgetAccount a in accounts)
        {
            usage.Add(await ReadUsageAsync(a, now, cancellationToken).ConfigureAwait(false));
        }

        return usage;
    }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfAnyNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceAsync((Self: this, Messages: messages, Options: options, Token: cancellationToken), messages, options, static s => s.Self.GetResponseCoreAsync(s.Messages, s.Options, s.Token))
            : GetResponseCoreAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfAnyNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceStreamAsync((Self: this, Messages: messages, Options: options), messages, options, static (s, ct) => s.Self.StreamCoreAsync(s.Messages, s.Options, ct), cancellationToken)
            : StreamCoreAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _ledger.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : base.GetService(serviceType, serviceKey);
    }
}
