namespace LlmRouter.Budgets.Internal;

/// <summary>One concrete scope id as the budget layer runs it: its policy, its budget accounts and its rate limiters.</summary>
internal sealed class ScopeRuntime
{
    private readonly MinuteRateLimiter? _requests;
    private readonly MinuteRateLimiter? _tokens;

    public ScopeRuntime(string id, ScopePolicy policy)
    {
        Id = id;
        Policy = policy;
        Accounts = new BudgetAccount[policy.Budgets.Count];
        for (int i = 0; i < Accounts.Length; i++)
        {
            Accounts[i] = new BudgetAccount(id, policy.Budgets[i], isDeployment: false) { Policy = policy };
        }

        _requests = policy.RequestsPerMinute is int rpm ? new MinuteRateLimiter(rpm) : null;
        _tokens = policy.TokensPerMinute is int tpm ? new MinuteRateLimiter(tpm) : null;
        HasRules = policy.AllowedRoutes.Count > 0 || policy.DeniedRoutes.Count > 0 || policy.AllowedRegions.Count > 0
            || policy.MaxOutputTokensPerRequest is not null || _requests is not null || _tokens is not null;
    }

    public string Id { get; }

    public ScopePolicy Policy { get; }

    public BudgetAccount[] Accounts { get; }

    /// <summary>Whether the policy has any rule besides budgets (so admission can skip the checks otherwise).</summary>
    public bool HasRules { get; }

    /// <summary>Takes one request and <paramref name="tokens"/> tokens from the rate limits, or says which limit refused.</summary>
    public PolicyViolation? TryAcquire(int tokens, long nowTicks, out TimeSpan? retryAfter)
    {
        retryAfter = null;
        if (_requests is not null && !_requests.TryAcquire(1, nowTicks, out retryAfter))
        {
            return PolicyViolation.RequestRateExceeded;
        }

        if (_tokens is not null && !_tokens.TryAcquire(tokens, nowTicks, out retryAfter))
        {
            return PolicyViolation.TokenRateExceeded;
        }

        return null;
    }
}

/// <summary>
/// A per-minute sliding-window limit (six 10-second segments) on the budget layer's clock (its <see cref="TimeProvider"/>).
/// System.Threading.RateLimiting's limiters were the first choice, but even with manual replenishment they read
/// <c>Stopwatch</c> time, so their windows could neither follow a FakeTimeProvider in tests nor an application's clock.
/// </summary>
internal sealed class MinuteRateLimiter
{
    private const int Segments = BudgetDefaults.RateLimitSegments;
    private static readonly long SegmentTicks = TimeSpan.TicksPerMinute / Segments;

    private readonly int[] _counts = new int[Segments];
    private readonly int _limit;
    private readonly Lock _gate = new();
    private long _segment;
    private int _total;

    public MinuteRateLimiter(int permitsPerMinute)
    {
        _limit = permitsPerMinute;
    }

    /// <summary>Takes <paramref name="permits"/> at <paramref name="now"/> (UTC ticks) if the last minute leaves room for them.</summary>
    public bool TryAcquire(int permits, long now, out TimeSpan? retryAfter)
    {
        long segment = now / SegmentTicks;
        lock (_gate)
        {
            // Slide: forget the segments that left the window.
            for (long s = _segment + 1; s <= segment && s <= _segment + Segments; s++)
            {
                ref int slot = ref _counts[(int)(s % Segments)];
                _total -= slot;
                slot = 0;
            }

            _segment = Math.Max(_segment, segment);
            if ((long)_total + permits <= _limit)
            {
                _counts[(int)(segment % Segments)] += permits;
                _total += permits;
                retryAfter = null;
                return true;
            }

            // The oldest segment holding permits frees them when it leaves the window.
            long oldest = segment - Segments + 1;
            while (oldest < segment && _counts[(int)(((oldest % Segments) + Segments) % Segments)] == 0)
            {
                oldest++;
            }

            retryAfter = permits > _limit ? TimeSpan.FromMinutes(1) : TimeSpan.FromTicks(((oldest + Segments) * SegmentTicks) - now);
            return false;
        }
    }
}
