using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>Per-request facts every selection needs. A struct kept in the request's async state.</summary>
internal struct RequestScope
{
    public RouteConstraints? Constraints;

    /// <summary>Whether the options carry router-only properties (constraints, affinity key) to strip before a provider sees them.</summary>
    public bool Strip;
    public ChatOptions? Options;
    public bool Streaming;
    public Random Random;
    public LatencyRankingOptions LatencyOptions;

    /// <summary>Where selection reports what it decided (deferrals at a rate limit).</summary>
    public IRoutingObserver Observer;

    /// <summary>Deployments must have a context window of at least this many tokens (after a context-window failure); 0 = any.</summary>
    public long MinContextWindow;

    /// <summary>Prompt tokens plus output cap when the prompt may not fit some deployment's known window (0: fits all).</summary>
    public long RequiredContext;

    /// <summary>The prompt's estimated tokens, for token rate limits (0 when no deployment of the chain has one).</summary>
    public long PromptTokens;

    /// <summary>The hash of the prompt's prefix on a route with prefix affinity (0: none, or the prompt is shorter).</summary>
    public ulong PrefixHash;

    private Deployment? _tried0;
    private List<Deployment>? _triedMore;

    public readonly bool WasTried(Deployment d) =>
        _tried0 is not null && (ReferenceEquals(_tried0, d) || (_triedMore is not null && _triedMore.Contains(d)));

    public void MarkTried(Deployment d)
    {
        if (_tried0 is null)
        {
            _tried0 = d;
        }
        else
        {
            (_triedMore ??= []).Add(d);
        }
    }
}

/// <summary>Tracks the matching-but-unavailable deployments of a request, for the fail-fast error and the last-resort attempt.</summary>
internal struct UnavailableTracker
{
    private List<string>? _names;

    public long EarliestAvailable;
    public Deployment? LeastRecentlyFailed;

    public readonly IReadOnlyList<string> Names => _names ?? (IReadOnlyList<string>)[];

    public void Add(Deployment d, long now)
    {
        _names ??= [];
        if (!_names.Contains(d.Name))
        {
            _names.Add(d.Name);
        }
        long at = d.Health.AvailableAt(now);
        if (EarliestAvailable == 0 || at < EarliestAvailable)
        {
            EarliestAvailable = at;
        }

        if (LeastRecentlyFailed is null || d.Health.LastFailure < LeastRecentlyFailed.Health.LastFailure)
        {
            LeastRecentlyFailed = d;
        }
    }
}
