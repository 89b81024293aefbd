using LlmRouter.Budgets.Internal;
using LlmRouter.Caching;
using LlmRouter.Pricing.Internal;
using LlmRouter.Routing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

// Admission of requests and cache hits: policy checks, worst-case reservations and the downgrade-or-deny decision.
public sealed partial class BudgetChatClient
{
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

    /// <summary>
    /// The request's routing constraints with what its scopes' policies add (allowed regions, fallback routes), without
    /// checking or counting anything: the cache keys entries on them, so a scope allowed only "eu" never gets an answer
    /// served elsewhere for another scope.
    /// </summary>
    RouteConstraints? ICacheHitAdmission.Constraints(ChatOptions? options)
    {
        RouteConstraints? asked = options.GetRouteConstraints();
        if (_policies.IsEmpty || (options.GetScopePath() ?? _source?.GetScopePath(options)) is not { } path)
        {
            return asked;
        }

        string route = options?.ModelId ?? string.Empty;
        List<string>? regions = null;
        List<string>? allowedRoutes = null;
        List<string>? deniedRoutes = null;
        ScopeRuntime[] scopes = _policies.Resolve(path).RuleScopes;
        for (int i = 0; i < scopes.Length; i++)
        {
            Narrow(scopes[i].Policy, route, asked?.Regions, ref regions, ref allowedRoutes, ref deniedRoutes);
        }

        return regions is null && allowedRoutes is null && deniedRoutes is null ? asked : RouteConstraints.Narrow(asked, regions, allowedRoutes, deniedRoutes);
    }

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

    private ValueTask<Admission> AdmitAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        CheckOutputCap(options);
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

        if (_router is not null && !IsRoute(_router, admission.Route))
        {
            // No reservation can be priced for a route that does not exist: the router's own error says what does.
            var unknown = new UnknownRouteException(admission.Route, _router.Routes);
            Write(admission, AuditDecision.Failed, reason: unknown.Message);
            throw unknown;
        }

        admission.Accounts = accounts;
        admission.PromptTokens = promptTokens;
        if (_ledger.IsDown)
        {
            // A store known to be down is not asked again (its timeout would be the request's) until the probe reads it.
            return new(Unreachable(admission, _ledger.LastFailure!));
        }

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
                LedgerFailed(ex, admission.Accounts[0]);
                return Unreachable(admission, ex);
            }

            if (Decide(ref admission, r, reserve))
            {
                return admission;
            }

            reserve = WorstCase(admission);
            pending = _store.ReserveAsync(admission.Accounts, reserve, admission.At, cancellationToken);
        }
    }

    /// <summary>
    /// Rejects an output cap below one token: a reservation is priced at the cap, so a zero or negative cap would reserve
    /// nothing for the output a provider that ignores the cap still bills.
    /// </summary>
    private static void CheckOutputCap(ChatOptions? options)
    {
        if (options?.MaxOutputTokens is int cap and <= 0)
        {
            throw new ArgumentException(
                $"ChatOptions.MaxOutputTokens is {cap}: it must be at least 1 (up to {int.MaxValue}), or null for the budget layer's default cap.", nameof(options));
        }
    }

    /// <summary>Whether the router serves <paramref name="key"/> (a route name, or "" for the default route).</summary>
    private static bool IsRoute(IRouterTopology router, string key) => key.Length == 0 || router.ResolveRouteName(key) is not null;

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
}
