using System.Diagnostics;

namespace LlmRouter.Routing.Internal;

/// <summary>The mutable state of one routed request, kept as a struct local of the request's async method.</summary>
internal struct RequestState
{
    public RequestScope Scope;
    public string RequestedRoute;
    public CompiledRoute[] Chain;
    public int ChainLength;
    public int RouteIndex;
    public int MaxAttempts;
    public int Attempts;
    public int RouteAttempts;
    public int Matching;
    public int OverBudget;
    public int TooSmall;
    public bool ContentFallbackUsed;
    public bool SelectionActive;
    public bool LastResortUsed;
    public Selection Selection;
    public UnavailableTracker Unavailable;
    public AttemptLog Log;
    public Exception? LastError;
    public Activity? AttemptSpan;

    /// <summary>When the request started, on the router's clock, if its duration is recorded.</summary>
    public long StartedAt;

    public readonly string CurrentRouteName => RouteIndex < ChainLength ? Chain[RouteIndex].Name : RequestedRoute;

    public void Dispose()
    {
        if (SelectionActive)
        {
            Selection.Dispose();
            SelectionActive = false;
        }
    }
}

/// <summary>The failed attempts of a request; allocates only once an attempt fails.</summary>
internal struct AttemptLog
{
    private AttemptRecord[]? _items;

    public int Count { get; private set; }

    public void Add(AttemptRecord record)
    {
        _items ??= new AttemptRecord[2];
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, Count * 2);
        }

        _items[Count++] = record;
    }

    public readonly AttemptRecord? Last => Count == 0 ? null : _items![Count - 1];

    public readonly AttemptRecord[]? ToArrayOrNull() => Count == 0 ? null : _items.AsSpan(0, Count).ToArray();
}
