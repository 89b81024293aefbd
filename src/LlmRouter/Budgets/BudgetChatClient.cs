using LlmRouter.Caching;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;
using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LlmRouter;

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
public sealed class BudgetChatClient : DelegatingChatClient, ICacheHitAdmission
{
    private readonly BudgetOptions _options;
    private readonly BudgetStore _store;
    private readonly IScopePathSource? _source;
    private readonly IAuditSink _audit;
    private readonly WallClock _clock;
    private readonly ILogger _logger;
    private readonly PolicyTable _policies;
    private readonly LlmRouterChatClient? _router;
    private readonly FrozenDictionary<string, TokenRates> _routeRates;
    private readonly FrozenDictionary<string, int> _concurrentAttempts;
    private readonly FrozenDictionary<string, DeploymentBudget> _deployments;
    private readonly bool _anyDeploymentBudget;
    private readonly Dictionary<ScopePolicy, FrozenSet<string>> _fallbackLimited = new(ReferenceEqualityComparer.Instance);
    private readonly BudgetAccount[] _observed;
    private readonly ConcurrentDictionary<BudgetAccount, long> _lastRemaining = new(ReferenceEqualityComparer.Instance);
    private int _ledgerDown;

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
        _router = innerClient.GetService<LlmRouterChatClient>();
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
            BudgetAccount a = scope.Accounts[i];
            (long spent, long reserved) = await _store.GetAsync(a, now, cancellationToken).ConfigureAwait(false);
            usage[i] = new BudgetUsage(a, Cost.ToUsd(spent), Cost.ToUsd(reserved), a.WindowStart(now), a.WindowEnd(now));
        }

        return usage;
    }

    /// <summary>
    /// Reads every budget the layer knows in its current window: those of configured scope ids, of the ids <c>kind:*</c>
    /// policies have seen so far, and of deployments (for dashboards and the snapshot API).
    /// </summary>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>One entry per budget: configured scope ids, then ids seen by <c>kind:*</c> policies, then deployments.</returns>
    public async Task<IReadOnlyList<BudgetUsage>> GetUsageAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = _clock.UtcNow();
        var usage = new List<BudgetUsage>();
        IEnumerable<BudgetAccount> accounts = _policies.KnownScopes.SelectMany(s => s.Accounts).Concat(_deployments.Values.SelectMany(d => d.Budgets));
        foreach (BudgetAccount a in accounts)
        {
            (long spent, long reserved) = await _store.GetAsync(a, now, cancellationToken).ConfigureAwait(false);
            usage.Add(new BudgetUsage(a, Cost.ToUsd(spent), Cost.ToUsd(reserved), a.WindowStart(now), a.WindowEnd(now)));
        }

        return usage;
    }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceAsync((Self: this, Messages: messages, Options: options, Token: cancellationToken), messages, options, static s => s.Self.GetResponseCoreAsync(s.Messages, s.Options, s.Token))
            : GetResponseCoreAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceStreamAsync((Self: this, Messages: messages, Options: options), messages, options, static (s, ct) => s.Self.StreamCoreAsync(s.Messages, s.Options, ct), cancellationToken)
            : StreamCoreAsync(messages, options, cancellationToken);
    }

    private Task<ChatResponse> GetResponseCoreAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {

        // In-memory ledgers and synchronously completing clients (caches, the router over a fast provider) finish here
        // without an async state machine of this layer's own; anything that really waits continues in RunAsync.
        ValueTask<Admission> admit = AdmitAsync(messages, options, streaming: false, cancellationToken);
        if (!admit.IsCompletedSuccessfully)
        {
            return RunAsync(admit.AsTask(), messages, cancellationToken);
        }

        Admission admission = admit.Result;
        Task<ChatResponse> call;
        try
        {
            call = InnerClient.GetResponseAsync(messages, admission.Options, cancellationToken);
        }
#pragma warning disable CA1031 // Handled by the same path as an asynchronous failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            call = Task.FromException<ChatResponse>(ex);
        }

        if (!call.IsCompletedSuccessfully)
        {
            return CompleteAsync(admission, call);
        }

        ValueTask finish = FinishAsync(admission, call.Result);
        if (!finish.IsCompletedSuccessfully)
        {
            return AwaitFinish(finish, call.Result);
        }

        finish.GetAwaiter().GetResult();
        return call;

        static async Task<ChatResponse> AwaitFinish(ValueTask finish, ChatResponse response)
        {
            await finish.ConfigureAwait(false);
            return response;
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamCoreAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Admission admission = await AdmitAsync(messages, options, streaming: true, cancellationToken).ConfigureAwait(false);
        RoutingReport? report = null;
        UsageDetails? usage = null;
        var text = new StringBuilder();
        ChatResponseUpdate? last = null;
        bool completed = false;
        Exception? error = null;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            updates = base.GetStreamingResponseAsync(messages, admission.Options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (Exception ex)
                {
                    error = ex;
                    throw;
                }

                ChatResponseUpdate update = updates.Current;
                report ??= update.GetRoutingReport();
                foreach (AIContent content in update.Contents)
                {
                    if (content is UsageContent u)
                    {
                        (usage ??= new UsageDetails()).Add(u.Details);
                    }
                    else if (content is TextContent t)
                    {
                        text.Append(t.Text);
                    }
                }

                last = update;
                yield return update;
            }

            completed = true;
        }
        finally
        {
            if (updates is not null)
            {
                await updates.DisposeAsync().ConfigureAwait(false);
            }

            // A completed stream is settled below, where its cost can be yielded.
            if (!completed && report is null)
            {
                // Nothing was produced: a failure before the first update (or a denial below us) is not billed.
                await ReleaseAsync(admission).ConfigureAwait(false);
                Write(admission, AuditDecision.Failed, reason: error is null ? "The stream was abandoned before its first update." : Describe(error));
            }
            else if (!completed)
            {
                string partial = text.ToString();
                Measured estimate = Measure(admission, null, report, static s => s, partial, outputFallback: partial);
                await SettleAsync(admission, report, estimate).ConfigureAwait(false);
                RecordCost(admission, report, estimate);
                Write(admission, AuditDecision.Abandoned, report: report, cost: estimate,
                    reason: error is null ? "The caller stopped reading the stream before its end." : Describe(error), responseText: _options.AuditContent ? partial : null);
            }
        }

        string produced = text.ToString();
        Measured cost = Measure(admission, usage, report, static s => s, produced, outputFallback: produced);
        await SettleAsync(admission, report, cost).ConfigureAwait(false);
        RecordCost(admission, report, cost);
        Write(admission, AuditDecision.Served, report: report, cost: cost, responseText: _options.AuditContent ? produced : null);

        if (last is null)
        {
            yield break;
        }

        // One last update carries the cost, so the response combined from the stream has it (response.GetCost()).
        var costUpdate = new ChatResponseUpdate { ResponseId = last.ResponseId, MessageId = last.MessageId, AdditionalProperties = [] };
        costUpdate.AdditionalProperties[RequestCostExtensions.CostKey] = new RequestCost(Cost.ToUsd(cost.Nanos), cost.Estimated, cost.InputTokens, cost.OutputTokens);
        yield return costUpdate;
    }

    private async Task<ChatResponse> RunAsync(Task<Admission> admit, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        Admission admission = await admit.ConfigureAwait(false);
        return await CompleteAsync(admission, base.GetResponseAsync(messages, admission.Options, cancellationToken)).ConfigureAwait(false);
    }

    private async Task<ChatResponse> CompleteAsync(Admission admission, Task<ChatResponse> call)
    {
        ChatResponse response;
        try
        {
            response = await call.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await ReleaseAsync(admission).ConfigureAwait(false);
            Write(admission, AuditDecision.Failed, reason: Describe(ex), failure: ex as AllAttemptsFailedException);
            throw;
        }

        await FinishAsync(admission, response).ConfigureAwait(false);
        return response;
    }

    /// <summary>Settles a served request at its actual cost, puts the cost on the response and audits it.</summary>
    private ValueTask FinishAsync(in Admission admission, ChatResponse response)
    {
        RoutingReport? report = response.GetRoutingReport();
        Measured cost = Measure(admission, response.Usage, report, static r => r.Text, response, outputFallback: null);
        ValueTask settle = SettleAsync(admission, report, cost);
        if (!settle.IsCompletedSuccessfully)
        {
            return FinishSlowAsync(settle, admission, report, cost, response);
        }

        settle.GetAwaiter().GetResult();
        Annotate(admission, report, cost, response);
        return default;
    }

    private async ValueTask FinishSlowAsync(ValueTask settle, Admission admission, RoutingReport? report, Measured cost, ChatResponse response)
    {
        await settle.ConfigureAwait(false);
        Annotate(admission, report, cost, response);
    }

    private void Annotate(in Admission admission, RoutingReport? report, Measured cost, ChatResponse response)
    {
        RecordCost(admission, report, cost);
        (response.AdditionalProperties ??= [])[RequestCostExtensions.CostKey] =
            new RequestCost(Cost.ToUsd(cost.Nanos), cost.Estimated, cost.InputTokens, cost.OutputTokens);
        Write(admission, AuditDecision.Served, report: report, cost: cost, responseText: _options.AuditContent ? response.Text : null);
    }

    /// <summary>
    /// Admits a request the response cache answers: the scope's policy checks and rate limits apply (a denied request is
    /// never served, not even from the cache), no budget is reserved, and the hit is audited with what it saved.
    /// </summary>
    void ICacheHitAdmission.Admit(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, decimal costSavedUsd) =>
        AuditCacheHit(options, streaming, costSavedUsd, CheckCacheHit(messages, options, streaming));

    /// <summary>
    /// The policy checks and rate limits of <see cref="ICacheHitAdmission.Admit"/> alone, for a caller about to join a stream another
    /// caller started (its cost is known only when the stream ends); returns the admission time for <see cref="AuditCacheHit"/>.
    /// </summary>
    DateTimeOffset ICacheHitAdmission.Check(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming) => CheckCacheHit(messages, options, streaming);

    private DateTimeOffset CheckCacheHit(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming)
    {
        ScopePath? path = options.GetScopePath() ?? _source?.GetScopePath(options);
        DateTimeOffset now = _clock.UtcNow();
        if (path is not null && !_policies.IsEmpty)
        {
            int promptTokens = TokenEstimator.UpperBound(messages, options);
            ChatOptions? unused = options;
            CheckPolicies(path, options?.ModelId ?? string.Empty, ref unused, promptTokens, now, streaming, messages);
        }

        return now;
    }

    /// <summary>Audits a request the cache answered (from an entry, or by joining another caller's stream).</summary>
    void ICacheHitAdmission.Audit(ChatOptions? options, bool streaming, decimal costSavedUsd, DateTimeOffset admittedAt) => AuditCacheHit(options, streaming, costSavedUsd, admittedAt);

    private void AuditCacheHit(ChatOptions? options, bool streaming, decimal costSavedUsd, DateTimeOffset admittedAt)
    {
        if (_audit is LoggingAuditSink { Enabled: false })
        {
            return;
        }

        _audit.Write(new AuditRecord
        {
            Timestamp = admittedAt,
            ScopePath = options.GetScopePath() ?? _source?.GetScopePath(options),
            Route = RouteLabel(options?.ModelId ?? string.Empty),
            Decision = AuditDecision.CacheHit,
            Streaming = streaming,
            CostSavedUsd = costSavedUsd,
        });
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : base.GetService(serviceType, serviceKey);
    }

    /// <summary>
    /// The routes (by the key requests use: route name or "" for the default) whose fallback chain reaches a route the
    /// policy's allowed or denied lists exclude, or a deployment whose model the denied list names: requests to them carry
    /// the lists to the router, which skips what they exclude. Requests to other routes pay nothing for the lists.
    /// </summary>
    private static FrozenSet<string>? FallbackLimitedRoutes(LlmRouterChatClient router, ScopePolicy policy)
    {
        if (policy.AllowedRoutes.Count == 0 && policy.DeniedRoutes.Count == 0)
        {
            return null;
        }

        var limited = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in router.Routes.Append(string.Empty))
        {
            bool first = true;
            foreach ((string name, IReadOnlyList<Deployment> members) in router.Chain(key.Length == 0 ? null : key))
            {
                bool excluded = !first && ((policy.AllowedRoutes.Count > 0 && !Contains(policy.AllowedRoutes, name)) || Contains(policy.DeniedRoutes, name));
                first = false;
                if (excluded || members.Any(d => d.ModelId is { } model && Contains(policy.DeniedRoutes, model)))
                {
                    limited.Add(key);
                    break;
                }
            }
        }

        return limited.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    private static TokenRates? WorstRates(IEnumerable<Deployment> deployments)
    {
        TokenRates? worst = null;
        foreach (Deployment d in deployments)
        {
            if (d.Price is { } p)
            {
                TokenRates rates = TokenRates.From(p);
                worst = worst is { } w ? TokenRates.Max(w, rates) : rates;
            }
        }

        return worst;
    }

    private static string RouteLabel(string route) => route.Length == 0 ? RouterDefaults.ImplicitDefaultRouteName : route;

    private ValueTask<Admission> AdmitAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _clock.UtcNow();
        ScopePath? path = options.GetScopePath() ?? _source?.GetScopePath(options);
        var admission = new Admission { Path = path, Route = options?.ModelId ?? string.Empty, Options = options, At = now, Streaming = streaming, Messages = messages };
        if (path is null || _policies.IsEmpty)
        {
            return new(admission);
        }

        int promptTokens = TokenEstimator.UpperBound(messages, options);
        BudgetAccount[] accounts = CheckPolicies(path, admission.Route, ref admission.Options, promptTokens, now, streaming, messages);
        if (accounts.Length == 0)
        {
            return new(admission);
        }

        admission.Accounts = accounts;
        admission.PromptTokens = promptTokens;

        // The in-memory store answers synchronously: decide here, without a state machine; a remote store continues in ReserveSlowAsync.
        while (true)
        {
            long reserve = WorstCase(admission);
            ValueTask<BudgetReservation> pending;
            try
            {
                pending = _store.ReserveAsync(accounts, reserve, now, cancellationToken);
            }
#pragma warning disable CA1031 // Handled as the store's asynchronous failure is.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                pending = ValueTask.FromException<BudgetReservation>(ex);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return ReserveSlowAsync(admission, reserve, pending, cancellationToken);
            }

            if (Decide(ref admission, pending.Result, reserve))
            {
                return new(admission);
            }
        }
    }

    private async ValueTask<Admission> ReserveSlowAsync(Admission admission, long reserve, ValueTask<BudgetReservation> pending, CancellationToken cancellationToken)
    {
        while (true)
        {
            BudgetReservation r;
            try
            {
                r = await pending.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LedgerFailed(ex);
                if (_options.OnLedgerFailure == LedgerFailureMode.FailClosed)
                {
                    var denied = new BudgetLedgerUnavailableException(RouteLabel(admission.Route), ex);
                    Rejected(admission.Route, "ledger_unavailable", scope: null);
                    Write(admission, AuditDecision.Denied, reason: denied.Message);
                    throw denied;
                }

                // Fail open: the request goes ahead without a reservation, and nothing is settled for it.
                admission.Accounts = [];
                return admission;
            }

            if (Decide(ref admission, r, reserve))
            {
                return admission;
            }

            reserve = WorstCase(admission);
            pending = _store.ReserveAsync(admission.Accounts, reserve, admission.At, cancellationToken);
        }
    }

    /// <summary>The request's worst-case cost on the route it is (now) going to.</summary>
    private long WorstCase(in Admission admission)
    {
        string? route = admission.Options?.ModelId;
        long one = RatesOf(route).WorstCase(admission.PromptTokens, admission.Options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens);

        // A hedged route may run several attempts at once, each billed: reserve for all of them.
        return _concurrentAttempts.Count > 0 && _concurrentAttempts.TryGetValue(route ?? string.Empty, out int concurrent) ? SaturatingMultiply(one, concurrent) : one;
    }

    private static long SaturatingMultiply(long amount, int factor) => amount > long.MaxValue / factor ? long.MaxValue : amount * factor;

    /// <summary>
    /// Acts on the store's answer: <see langword="true"/> when granted; <see langword="false"/> after switching the
    /// request to its scope's downgrade route (reserve again); otherwise throws <see cref="BudgetExceededException"/>.
    /// </summary>
    private bool Decide(ref Admission admission, BudgetReservation r, long reserve)
    {
        LedgerAvailable();
        if (r.Granted)
        {
            admission.Reserved = reserve;
            return true;
        }

        BudgetAccount a = admission.Accounts[r.DeniedIndex];
        if (a.Policy?.DowngradeRoute is { } cheaper && !string.Equals(admission.Options?.ModelId, cheaper, StringComparison.OrdinalIgnoreCase))
        {
            admission.Options = (admission.Options ?? new ChatOptions()).Clone();
            admission.Options.ModelId = cheaper;
            return false;
        }

        var exceeded = new BudgetExceededException(
            RouteLabel(admission.Route), a.Owner, a.Window, a.Limit, Cost.ToUsd(r.SpentNanos + r.ReservedNanos), Cost.ToUsd(reserve), a.WindowEnd(admission.At));
        Rejected(admission.Route, "budget_exceeded", a.Policy?.Scope ?? a.Owner);
        Write(admission, AuditDecision.Denied, reason: exceeded.Message);
        throw exceeded;
    }

    /// <summary>Applies every scope's rules to the request (possibly replacing its options) and returns the budget accounts of the path.</summary>
    private BudgetAccount[] CheckPolicies(ScopePath path, string route, ref ChatOptions? options, int promptTokens, DateTimeOffset now, bool streaming, IEnumerable<ChatMessage> messages)
    {
        ResolvedPath resolved = _policies.Resolve(path);
        int? cap = null;
        List<string>? regions = null;
        List<string>? allowedRoutes = null;
        List<string>? deniedRoutes = null;
        ScopeRuntime[] scopes = resolved.RuleScopes;
        for (int i = 0; i < scopes.Length; i++)
        {
            ScopeRuntime scope = scopes[i];
            ScopePolicy p = scope.Policy;
            string routeName = RouteLabel(route);
            if (p.AllowedRoutes.Count > 0 && !Contains(p.AllowedRoutes, routeName))
            {
                throw Deny(path, route, scope, PolicyViolation.RouteNotAllowed, $"route '{routeName}' is not allowed; allowed: {string.Join(", ", p.AllowedRoutes)}.", null, now, streaming, messages);
            }

            if (p.DeniedRoutes.Count > 0 && Contains(p.DeniedRoutes, routeName))
            {
                throw Deny(path, route, scope, PolicyViolation.RouteDenied, $"route '{routeName}' is denied.", null, now, streaming, messages);
            }

            if (_fallbackLimited.Count > 0 && (p.AllowedRoutes.Count > 0 || p.DeniedRoutes.Count > 0) && _fallbackLimited.TryGetValue(p, out FrozenSet<string>? limitedRoutes) && limitedRoutes.Contains(route))
            {
                // The route's fallbacks (or its deployments' models) reach what this scope excludes: the router must skip them.
                if (p.AllowedRoutes.Count > 0)
                {
                    allowedRoutes = allowedRoutes is null ? [.. p.AllowedRoutes] : Intersect(allowedRoutes, p.AllowedRoutes);
                }

                if (p.DeniedRoutes.Count > 0)
                {
                    (deniedRoutes ??= []).AddRange(p.DeniedRoutes);
                }
            }

            if (p.AllowedRegions.Count > 0)
            {
                if (options.GetRouteConstraints()?.Regions is { Count: > 0 } asked)
                {
                    for (int r = 0; r < asked.Count; r++)
                    {
                        if (!Contains(p.AllowedRegions, asked[r]))
                        {
                            throw Deny(path, route, scope, PolicyViolation.RegionNotAllowed, $"region '{asked[r]}' is not allowed; allowed: {string.Join(", ", p.AllowedRegions)}.", null, now, streaming, messages);
                        }
                    }
                }
                else
                {
                    regions = regions is null ? [.. p.AllowedRegions] : Intersect(regions, p.AllowedRegions);
                }
            }

            if (p.MaxOutputTokensPerRequest is int max)
            {
                cap = Math.Min(cap ?? int.MaxValue, max);
            }

            int maxOutput = Math.Min(cap ?? int.MaxValue, options?.MaxOutputTokens ?? _options.DefaultMaxOutputTokens);
            if (scope.TryAcquire(promptTokens + maxOutput, now.UtcTicks, out TimeSpan? retryAfter) is PolicyViolation limited)
            {
                throw Deny(path, route, scope, limited, limited == PolicyViolation.RequestRateExceeded
                    ? $"more than {p.RequestsPerMinute} requests per minute."
                    : $"more than {p.TokensPerMinute} tokens per minute.", retryAfter, now, streaming, messages);
            }
        }

        BudgetAccount[] accounts = resolved.Accounts;
        if (accounts.Length > 0)
        {
            // A reservation must be a true worst case: requests without an output cap get the default one.
            cap = Math.Min(cap ?? int.MaxValue, _options.DefaultMaxOutputTokens);
        }

        bool narrow = regions is not null || allowedRoutes is not null || deniedRoutes is not null;
        if ((cap is int c && (options?.MaxOutputTokens is not int asked2 || asked2 > c)) || narrow)
        {
            options = options?.Clone() ?? new ChatOptions();
            if (cap is int c2 && (options.MaxOutputTokens is not int asked3 || asked3 > c2))
            {
                options.MaxOutputTokens = c2;
            }

            if (narrow)
            {
                RouteConstraints? existing = options.GetRouteConstraints();
                options.AdditionalProperties = options.AdditionalProperties is null ? [] : new AdditionalPropertiesDictionary(options.AdditionalProperties);
                options.WithRouteConstraints(RouteConstraints.Narrow(existing, regions, allowedRoutes, deniedRoutes));
            }
        }

        return accounts;
    }

    private PolicyViolationException Deny(
        ScopePath path, string route, ScopeRuntime scope, PolicyViolation violation, string detail, TimeSpan? retryAfter, DateTimeOffset now, bool streaming, IEnumerable<ChatMessage> messages)
    {
        var denied = new PolicyViolationException(RouteLabel(route), scope.Id, violation, detail, retryAfter);
        Rejected(route, RouterTelemetry.Name(violation), scope.Policy.Scope);
        Write(new Admission { Path = path, Route = route, At = now, Streaming = streaming, Messages = messages }, AuditDecision.Denied, reason: denied.Message);
        return denied;
    }

    /// <summary>The regions of <paramref name="regions"/> also in <paramref name="allowed"/> (no lambda: a captured variable would cost every rule scope an allocation).</summary>
    private static List<string> Intersect(List<string> regions, IList<string> allowed)
    {
        var both = new List<string>(regions.Count);
        foreach (string region in regions)
        {
            if (Contains(allowed, region))
            {
                both.Add(region);
            }
        }

        return both;
    }

    private static bool Contains(IList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The worst-case rates of the deployments a request to this route may reach.</summary>
    private TokenRates RatesOf(string? modelId)
    {
        string key = modelId ?? string.Empty;
        if (_routeRates.TryGetValue(key, out TokenRates rates))
        {
            return rates;
        }

        if (_router is null && PriceCatalog.Default.Find(modelId ?? InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId) is { } catalogued)
        {
            return TokenRates.From(catalogued);
        }

        throw new InvalidOperationException(
            $"No price is known for route or model '{RouteLabel(key)}': add it to the deployments' Price or use a model id from the price catalogue (PriceCatalog.Default).");
    }

    private Measured Measure<T>(in Admission admission, UsageDetails? usage, RoutingReport? report, Func<T, string> textOf, T source, string? outputFallback)
    {
        TokenRates rates;
        if (report is not null && _deployments.TryGetValue(report.Deployment, out DeploymentBudget? d) && d.Rates is { } known)
        {
            rates = known;
        }
        else
        {
            try
            {
                rates = RatesOf(admission.Options?.ModelId);
            }
            catch (InvalidOperationException) when (admission.Accounts.Length == 0)
            {
                // Nothing to charge and no price to charge with: account tokens only.
                rates = default;
            }
        }

        Measured served;
        if (usage is { InputTokenCount: not null } or { OutputTokenCount: not null })
        {
            served = new Measured(rates.Of(usage), false, usage.InputTokenCount ?? 0, usage.OutputTokenCount ?? 0);
        }
        else
        {
            long input = TokenEstimator.Count(admission.Messages);
            long output = TokenEstimator.Count(outputFallback ?? textOf(source));
            served = new Measured(rates.WorstCase(input, output), true, input, output);
        }

        return report is { AttemptCount: > 1 } ? served with { Nanos = served.Nanos + SupersededCost(admission, report) } : served;
    }

    /// <summary>
    /// What the hedged attempts another attempt beat cost: each was cancelled mid-way, its usage unknown; providers bill the
    /// prompt they read, so each is charged its prompt (the upper bound used for reservations) at its deployment's input price.
    /// </summary>
    private long SupersededCost(in Admission admission, RoutingReport report)
    {
        long nanos = 0;
        long prompt = -1;
        foreach (AttemptRecord a in report.Attempts)
        {
            if (a.Outcome == AttemptOutcome.Superseded && _deployments.TryGetValue(a.Deployment, out DeploymentBudget? d) && d.Rates is { } rates)
            {
                if (prompt < 0)
                {
                    prompt = admission.PromptTokens > 0 ? admission.PromptTokens : TokenEstimator.UpperBound(admission.Messages, admission.Options);
                }

                nanos += rates.WorstCase(prompt, 0);
            }
        }

        return nanos;
    }

    /// <summary>Settles the reservation at <paramref name="cost"/> and charges the serving deployment's budgets; never throws.</summary>
    private ValueTask SettleAsync(in Admission admission, RoutingReport? report, Measured cost)
    {
        if (admission.Accounts.Length > 0)
        {
            ValueTask pending;
            try
            {
                pending = _store.SettleAsync(admission.Accounts, admission.At, admission.Reserved, cost.Nanos, CancellationToken.None);
            }
#pragma warning disable CA1031 // Handled as the store's asynchronous failure is.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                pending = ValueTask.FromException(ex);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return SettleSlowAsync(pending, report, cost);
            }

            pending.GetAwaiter().GetResult();
            LedgerAvailable();
        }

        return _anyDeploymentBudget && report is not null ? ChargeDeploymentAsync(report, cost) : default;
    }

    private async ValueTask SettleSlowAsync(ValueTask pending, RoutingReport? report, Measured cost)
    {
        try
        {
            await pending.ConfigureAwait(false);
            LedgerAvailable();
        }
        catch (Exception ex)
        {
            LedgerFailed(ex);
        }

        if (_anyDeploymentBudget && report is not null)
        {
            await ChargeDeploymentAsync(report, cost).ConfigureAwait(false);
        }
    }

    /// <summary>Charges the serving deployment's own budgets and takes it out of routing when one is exhausted.</summary>
    private async ValueTask ChargeDeploymentAsync(RoutingReport report, Measured cost)
    {
        if (!_deployments.TryGetValue(report.Deployment, out DeploymentBudget? d) || d.Budgets.Length == 0)
        {
            return;
        }

        DateTimeOffset now = _clock.UtcNow();
        foreach (BudgetAccount a in d.Budgets)
        {
            try
            {
                long spent = await _store.ChargeAsync(a, cost.Nanos, now, CancellationToken.None).ConfigureAwait(false);
                LedgerAvailable();
                if (spent >= a.LimitNanos && a.WindowEnd(now) is { } resets)
                {
                    d.Deployment.BlockForBudget(resets);
                    BudgetLog.DeploymentBudgetExhausted(_logger, d.Deployment.Name, a.Window, a.Limit, resets);
                }
            }
            catch (Exception ex)
            {
                LedgerFailed(ex);
            }
        }
    }

    private async ValueTask ReleaseAsync(Admission admission)
    {
        if (admission.Accounts.Length == 0)
        {
            return;
        }

        try
        {
            await _store.SettleAsync(admission.Accounts, admission.At, admission.Reserved, 0, CancellationToken.None).ConfigureAwait(false);
            LedgerAvailable();
        }
        catch (Exception ex)
        {
            LedgerFailed(ex);
        }
    }

    private void Write(
        in Admission admission, AuditDecision decision, RoutingReport? report = null, Measured cost = default, string? reason = null, string? responseText = null, AllAttemptsFailedException? failure = null)
    {
        if (_audit is LoggingAuditSink { Enabled: false })
        {
            return;
        }

        bool content = _options.AuditContent && admission.Options.GetRouteConstraints() is not { RequireZeroDataRetention: true };
        _audit.Write(new AuditRecord
        {
            Timestamp = admission.At,
            ScopePath = admission.Path,
            Route = RouteLabel(admission.Route),
            ServedRoute = report?.Route,
            Deployment = report?.Deployment ?? (failure?.Attempts is { Count: > 0 } tried ? tried[^1].Deployment : null),
            Attempts = report?.AttemptCount ?? failure?.Attempts.Count ?? 0,
            Streaming = admission.Streaming,
            InputTokens = cost.InputTokens,
            OutputTokens = cost.OutputTokens,
            CostUsd = Cost.ToUsd(cost.Nanos),
            CostEstimated = cost.Estimated,
            Decision = decision,
            Reason = reason,
            Prompt = content ? [.. admission.Messages] : null,
            ResponseText = content ? responseText : null,
        });
    }

    /// <summary>
    /// An audit reason for a failure: the message of the router's and this layer's own exceptions (composed from names and
    /// numbers), otherwise only the exception's type and HTTP status. Provider SDK messages can carry response bodies, and
    /// an error body may echo request headers (API keys): they never reach the audit log.
    /// </summary>
    private static string Describe(Exception ex) => ex switch
    {
        LlmRouterException or BudgetExceededException or PolicyViolationException or BudgetLedgerUnavailableException or OperationCanceledException => ex.Message,
        HttpRequestException { StatusCode: { } status } => $"{ex.GetType().Name} ({(int)status})",
        _ => ex.GetType().Name,
    };

    /// <summary>Counts the cost of a settled request (<c>llmrouter.cost</c>); a flag read while nobody listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RecordCost(in Admission admission, RoutingReport? report, Measured cost)
    {
        if (RouterTelemetry.Cost.Enabled && cost.Nanos > 0)
        {
            RecordCostCore(admission, report, cost);
        }
    }

    private void RecordCostCore(in Admission admission, RoutingReport? report, Measured cost) =>
        RouterTelemetry.Cost.Add((double)Cost.ToUsd(cost.Nanos), new TagList
        {
            { RouterTelemetry.Tags.Route, report?.RequestedRoute ?? RouteTag(admission.Route) },
            { RouterTelemetry.Tags.DeploymentName, report?.Deployment },
            { RouterTelemetry.Tags.CostEstimated, cost.Estimated ? "true" : "false" },
        });

    /// <summary>
    /// Counts a request refused before any provider call (<c>llmrouter.budget.rejections</c>). The scope tag is the policy's
    /// scope as configured: an exact id, or the <c>kind:*</c> template for per-id policies (never the id itself, which
    /// could be a user's: metric tags stay bounded).
    /// </summary>
    private void Rejected(string route, string reason, string? scope)
    {
        if (RouterTelemetry.BudgetRejections.Enabled)
        {
            RouterTelemetry.BudgetRejections.Add(1, new TagList
            {
                { RouterTelemetry.Tags.Route, RouteTag(route) },
                { RouterTelemetry.Tags.Reason, reason },
                { RouterTelemetry.Tags.Scope, scope },
            });
        }
    }

    /// <summary>The route as the router names it (configured case, "(unknown)" for no route), or the label over another client.</summary>
    private string RouteTag(string route) => _router?.RouteTag(route.Length == 0 ? null : route) ?? RouteLabel(route);

    /// <summary>
    /// The remaining budget of every configured exact scope and every deployment budget, for <c>llmrouter.budget.remaining</c>.
    /// A store that answers synchronously (in memory) is read as is; a remote one is read in the background and the last
    /// completed read reported, so a metrics collection never waits on the network.
    /// </summary>
    private IEnumerable<Measurement<double>> ObserveRemaining()
    {
        DateTimeOffset now = _clock.UtcNow();
        foreach (BudgetAccount a in _observed)
        {
            long? remaining = ReadRemaining(a, now);
            if (remaining is long nanos)
            {
                yield return new Measurement<double>(
                    (double)Cost.ToUsd(Math.Max(0, nanos)),
                    new KeyValuePair<string, object?>(a.IsDeployment ? RouterTelemetry.Tags.DeploymentName : RouterTelemetry.Tags.Scope, a.Owner),
                    new KeyValuePair<string, object?>(RouterTelemetry.Tags.BudgetWindowName, a.Window.ToString()));
            }
        }
    }

    private long? ReadRemaining(BudgetAccount a, DateTimeOffset now)
    {
        ValueTask<(long SpentNanos, long ReservedNanos)> read;
        try
        {
            read = _store.GetAsync(a, now, CancellationToken.None);
        }
#pragma warning disable CA1031 // A metrics callback must not throw; the outage is logged by the request path.
        catch (Exception)
#pragma warning restore CA1031
        {
            return _lastRemaining.TryGetValue(a, out long last) ? last : null;
        }

        if (read.IsCompletedSuccessfully)
        {
            (long spent, long reserved) = read.Result;
            return _lastRemaining[a] = a.LimitNanos - spent - reserved;
        }

        _ = RefreshAsync(a, read);
        return _lastRemaining.TryGetValue(a, out long known) ? known : null;
    }

    private async Task RefreshAsync(BudgetAccount a, ValueTask<(long SpentNanos, long ReservedNanos)> read)
    {
        try
        {
            (long spent, long reserved) = await read.ConfigureAwait(false);
            _lastRemaining[a] = a.LimitNanos - spent - reserved;
        }
#pragma warning disable CA1031 // Background read for a gauge: a failure leaves the last value.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void LedgerFailed(Exception ex)
    {
        if (Interlocked.Exchange(ref _ledgerDown, 1) == 0)
        {
            BudgetLog.LedgerUnavailable(_logger, _options.OnLedgerFailure, ex.GetType().Name, ex.Message);
        }
    }

    private void LedgerAvailable()
    {
        if (Volatile.Read(ref _ledgerDown) == 1 && Interlocked.Exchange(ref _ledgerDown, 0) == 1)
        {
            BudgetLog.LedgerRecovered(_logger);
        }
    }

    /// <summary>A request as admitted: who, which route, its (possibly capped) options and its reservation.</summary>
    private struct Admission
    {
        public ScopePath? Path;
        public string Route;
        public ChatOptions? Options;
        public DateTimeOffset At;
        public bool Streaming;
        public IEnumerable<ChatMessage> Messages;
        public BudgetAccount[] Accounts;
        public long Reserved;
        public int PromptTokens;

        public Admission()
        {
            Route = string.Empty;
            Messages = [];
            Accounts = [];
        }
    }

    private readonly record struct Measured(long Nanos, bool Estimated, long InputTokens, long OutputTokens);

    private sealed class DeploymentBudget(Deployment deployment, BudgetAccount[] budgets)
    {
        public Deployment Deployment { get; } = deployment;

        public BudgetAccount[] Budgets { get; } = budgets;

        public TokenRates? Rates { get; } = deployment.Price is { } p ? TokenRates.From(p) : null;
    }
}
