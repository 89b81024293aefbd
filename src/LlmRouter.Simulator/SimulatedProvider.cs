using System.Collections.Concurrent;
using LlmRouter.Simulator.Internal;

namespace LlmRouter.Simulator;

/// <summary>A running simulated provider: change its behaviour at run time and read what it received.</summary>
public sealed class SimulatedProvider
{
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<FaultKind> _script = new();
    private readonly List<ReceivedRequest> _received = [];
    private readonly IList<SimulatedPhase> _phases;
    private Random _random;
    private ProviderProfile _profile;
    private long _requests;
    private double _bucket = double.NaN;
    private TimeSpan _bucketAt;

    internal SimulatedProvider(SimulatedProviderOptions options)
    {
        Name = options.Name;
        Api = options.Api;
        Seed = options.Seed;
        _random = new Random(options.Seed);
        _profile = options.Profile.Clone();
        _phases = [.. options.Phases];
        RecordRequests = options.RecordRequests;
        RecordBodies = options.RecordBodies;
        PromptCache = options.SimulatePromptCache && options.Api == ProviderApi.Anthropic ? new PromptCache() : null;
    }

    /// <summary>Gets the name (and base path segment).</summary>
    public string Name { get; }

    /// <summary>Gets the protocol.</summary>
    public ProviderApi Api { get; }

    /// <summary>Gets the seed.</summary>
    public int Seed { get; }

    /// <summary>Gets whether <see cref="Received"/> keeps requests.</summary>
    internal bool RecordRequests { get; }

    /// <summary>Gets whether received requests keep their bodies.</summary>
    internal bool RecordBodies { get; }

    /// <summary>Gets the simulated prompt cache, or <see langword="null"/>.</summary>
    internal PromptCache? PromptCache { get; }

    /// <summary>Gets how many requests arrived.</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    /// <summary>Gets a copy of the profile that applies outside phases.</summary>
    public ProviderProfile Profile
    {
        get
        {
            lock (_gate)
            {
                return _profile.Clone();
            }
        }
    }

    /// <summary>Gets a snapshot of the requests received, in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Received
    {
        get
        {
            lock (_gate)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Changes the profile that applies outside phases; requests in flight keep the one they started with.</summary>
    /// <param name="configure">Edits a copy of the current profile.</param>
    public void Configure(Action<ProviderProfile> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        lock (_gate)
        {
            ProviderProfile next = _profile.Clone();
            configure(next);
            _profile = next;
        }
    }

    /// <summary>Scripts the faults of the next requests, in order, ahead of any phase or rate.</summary>
    /// <param name="faults">One fault per request (<see cref="FaultKind.None"/> for a normal response).</param>
    public void EnqueueFaults(params FaultKind[] faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        foreach (FaultKind fault in faults)
        {
            _script.Enqueue(fault);
        }
    }

    /// <summary>Forgets received requests, scripted faults and the request count, and reseeds the random source.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _received.Clear();
            _script.Clear();
            PromptCache?.Clear();
            _requests = 0;
            _random = new Random(Seed);
        }
    }

    /// <summary>Decides the profile, fault and delays of a new request, deterministically for the seed and arrival order.</summary>
    internal RequestPlan Plan(TimeSpan sinceStart, int promptTokens)
    {
        lock (_gate)
        {
            long number = _requests++;
            SimulatedPhase? phase = null;
            foreach (SimulatedPhase p in _phases)
            {
                if (p.IsActive(number, sinceStart))
                {
                    phase = p;
                    break;
                }
            }

            ProviderProfile profile = phase?.Profile ?? _profile;
            FaultKind fault = _script.TryDequeue(out FaultKind scripted) ? scripted : Draw(profile);
            if (fault == FaultKind.None && profile.ContextWindow is int window && promptTokens > window)
            {
                fault = FaultKind.ContextLengthExceeded;
            }

            TimeSpan latency = profile.Latency.Sample(_random);
            RequestQuota? quota = profile.RequestsPerMinute is int limit and > 0 ? Admit(limit, sinceStart) : null;
            if (quota is { RetryAfter: not null } && fault is FaultKind.None)
            {
                fault = FaultKind.RateLimited;
            }

            return new RequestPlan(number, profile, fault, latency, phase?.Name) { Quota = quota };
        }
    }

    /// <summary>Takes one request from the rate-limit bucket, if it holds one (call under the lock).</summary>
    private RequestQuota Admit(int limit, TimeSpan sinceStart)
    {
        double perSecond = limit / 60.0;
        _bucket = double.IsNaN(_bucket) ? limit : Math.Min(limit, _bucket + ((sinceStart - _bucketAt).TotalSeconds * perSecond));
        _bucketAt = sinceStart;
        TimeSpan? retryAfter = null;
        if (_bucket >= 1)
        {
            _bucket -= 1;
        }
        else
        {
            retryAfter = TimeSpan.FromSeconds((1 - _bucket) / perSecond);
        }

        return new RequestQuota(limit, (int)Math.Floor(_bucket), TimeSpan.FromSeconds((limit - _bucket) / perSecond), retryAfter);
    }

    internal void Record(ReceivedRequest request)
    {
        if (!RecordRequests)
        {
            return;
        }

        lock (_gate)
        {
            _received.Add(request);
        }
    }

    private FaultKind Draw(ProviderProfile profile)
    {
        if (profile.FaultRates.Count == 0)
        {
            return FaultKind.None;
        }

        double u = _random.NextDouble();
        double cumulative = 0;
        foreach (KeyValuePair<FaultKind, double> rate in profile.FaultRates)
        {
            cumulative += rate.Value;
            if (u < cumulative)
            {
                return rate.Key;
            }
        }

        return FaultKind.None;
    }
}

/// <summary>The decisions for one request.</summary>
internal sealed record RequestPlan(long Number, ProviderProfile Profile, FaultKind Fault, TimeSpan Latency, string? Phase)
{
    /// <summary>The rate-limit bucket after this request, when the profile has a limit.</summary>
    public RequestQuota? Quota { get; init; }
}

/// <summary>A rate-limit bucket's state as the headers report it: the limit, what is left, when it is full again, and the wait when empty.</summary>
internal sealed record RequestQuota(int Limit, int Remaining, TimeSpan ResetAfter, TimeSpan? RetryAfter);
